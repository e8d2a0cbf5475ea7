"""Cart verbs, shared by the pages and the API. Prices always come from the catalog; what a
cart looks like now (prices, stock, problems) is read in :mod:`app.cart.queries`."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.cart.models import Cart, CartLine, SavedItem
from app.cart.queries import (
    CartView,
    available_for,
    build_cart_view,
    own_reservations,
    own_unpaid_orders,
    promotion_lines,
    read_locked_cart,
    saved_filter,
)
from app.catalog.models import ProductStatus, Variant
from app.core.numbers import parse_int
from app.core.shop_errors import ShopError
from app.db import affected, upsert, utcnow
from app.extensions import db
from app.promotions.services import PromotionError, Shopper, check_code, deal_for


class CartError(ShopError):
    """The change was refused; the message says why and nothing was changed."""

    code = "cart-rejected"


QUANTITY_INVALID = "quantity-invalid"
VARIANT_UNAVAILABLE = "variant-unavailable"
OUT_OF_STOCK = "out-of-stock"
CART_FULL = "cart-full"


@dataclass
class CartChange:
    quantity: int
    messages: list[str] = field(default_factory=list)
    item: str = ""  # what the line is, as a shopper names it: "Jacket, size: M"


def _lifetime(user_id: int | None) -> timedelta:
    cfg = current_app.config
    return timedelta(days=cfg["USER_CART_DAYS"] if user_id else cfg["GUEST_CART_DAYS"])


def new_guest_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def find_cart(*, user_id: int | None, token: str | None, lock: bool = False) -> Cart | None:
    """The caller's own cart only: by signed-in user, else by the guest token. ``lock``:
    read and locked, for paying (see :func:`locked_now`), with its lines in the same
    statement (:func:`app.cart.queries.locked_cart_statement`)."""
    if user_id is not None:
        owner: dict[str, object] = {"user_id": user_id}
    elif token:
        owner = {"token": token}
    else:
        return None
    if lock:
        cart = _find_locked(owner)
    else:
        query = _cart_statement(signed_in=user_id is not None)
        cart = db.session.execute(query, owner).scalar_one_or_none()
    if cart is not None and cart.expires_at <= utcnow():
        return None
    return cart


def _find_locked(owner: dict[str, object]) -> Cart | None:
    cart = read_locked_cart(owner)
    if cart is not None:
        db.session.info[LOCKED_NOW] = (db.session().get_transaction(), cart.id)
    return cart


@functools.cache
def _cart_statement(*, signed_in: bool) -> sa.Select[Cart]:
    """:func:`find_cart`'s query, built once per process (the owner bound at each run): it
    is the first statement of every cart page."""
    if signed_in:
        return sa.select(Cart).where(Cart.user_id == sa.bindparam("user_id", type_=sa.Integer))
    token = sa.bindparam("token", type_=Cart.token.type)
    return sa.select(Cart).where(Cart.token == token, Cart.user_id.is_(None))


def get_or_create_cart(*, user_id: int | None, token: str | None, new: bool = False) -> Cart:
    """The caller's cart, created when there is none. ``new``: the guest token was made in
    this request, so no cart can have it yet (one statement fewer)."""
    cart = None if new else find_cart(user_id=user_id, token=token)
    if cart is not None:
        return cart
    if user_id is None and not token:
        raise ValueError("a guest cart needs a token")
    values = {
        "user_id": user_id,
        "token": None if user_id else token,
        "currency": current_app.config["SHOP_CURRENCY"],
        "expires_at": utcnow() + _lifetime(user_id),
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    # Two tabs creating the cart at once end up with one cart: the one that lost the race
    # inserts nothing and reads the winner's.
    cart = db.session.scalars(
        upsert(Cart).values(**values).on_conflict_do_nothing().returning(Cart)
    ).one_or_none()
    if cart is not None:
        # Inserted by this transaction: its row is locked already and its expiry fresh.
        db.session.info[CREATED_NOW] = (db.session().get_transaction(), cart.id)
    else:
        cart = find_cart(user_id=user_id, token=token)
    if cart is None:  # an expired cart held the key: renew it
        key = Cart.user_id == user_id if user_id else Cart.token == token
        db.session.execute(sa.delete(Cart).where(key))
        db.session.execute(sa.insert(Cart).values(**values))
        cart = find_cart(user_id=user_id, token=token)
    assert cart is not None
    return cart


CREATED_NOW = "carts created in this transaction"


LOCKED_NOW = "cart read and locked by this transaction"


def locked_now(cart: Cart) -> bool:
    """Whether the transaction still open read this cart with its row lock (FOR UPDATE)."""
    transaction, cart_id = db.session.info.get(LOCKED_NOW, (None, None))
    current = db.session().get_transaction()
    return cart_id == cart.id and current is not None and transaction is current


def _created_now(cart: Cart) -> bool:
    """Whether this cart was inserted by the transaction still open (not an earlier one of
    the same request, whose commit released the row)."""
    transaction, cart_id = db.session.info.get(CREATED_NOW, (None, None))
    current = db.session().get_transaction()
    return cart_id == cart.id and current is not None and transaction is current


def touch(cart: Cart) -> None:
    if _created_now(cart):
        return
    cart.expires_at = utcnow() + _lifetime(cart.user_id)
    cart.updated_at = utcnow()


def parse_quantity(raw: object) -> int:
    """Whole numbers from 1 to the per-line limit; anything else is refused with a message."""
    limit = current_app.config["CART_MAX_QUANTITY"]
    value = parse_int(raw, minimum=1, maximum=limit)
    if value is None:
        raise CartError(
            f"Quantity must be a whole number from 1 to {limit}.",
            code=QUANTITY_INVALID,
            field="quantity",
        )
    return value


def _buyable_variant(variant_id: int) -> Variant:
    variant = db.session.execute(
        sa.select(Variant).where(Variant.id == variant_id).options(joinedload(Variant.product))
    ).scalar_one_or_none()
    if variant is None or variant.product.status != ProductStatus.PUBLISHED:
        raise CartError(
            "That product is not available.", code=VARIANT_UNAVAILABLE, field="variant_id"
        )
    if not variant.is_available:
        raise CartError(
            f"Sorry, {variant.product.name} is out of stock.", code=OUT_OF_STOCK, field="variant_id"
        )
    return variant


def _cap(cart: Cart, variant: Variant, wanted: int) -> tuple[int, list[str]]:
    limit = current_app.config["CART_MAX_QUANTITY"]
    messages = []
    quantity = wanted
    if quantity > limit:
        quantity = limit
        messages.append(f"You can buy at most {limit} of {variant.product.name} at a time.")
    available = variant.available
    if available is not None and quantity > available:  # the cart's own orders may hold some
        available = available_for(variant, own_reservations(cart).get(variant.id, 0))
    if available is not None and quantity > available:
        quantity = available
        messages.append(
            f"Only {available} of {variant.product.name} left, so your cart has {available}."
        )
    return quantity, messages


def lock_cart(cart: Cart) -> None:
    """Serialise changes to one cart's set of lines: concurrent adds (two tabs, a burst of
    API calls) each count the lines after the previous one committed, so the line limit
    holds. FOR NO KEY UPDATE, the first lock in the shop's order (cart → order → stock): it
    does not block inserts of lines referencing the cart (their foreign key takes KEY SHARE).
    SQLite takes its write lock at BEGIN for posts, which serialises the same way."""
    if _created_now(cart):
        return  # our own INSERT holds the row's lock until commit
    db.session.execute(sa.select(Cart.id).where(Cart.id == cart.id).with_for_update(key_share=True))


def add_item(cart: Cart, variant_id: int, quantity: int) -> CartChange:
    """Add (or add to) a line. Concurrent adds of the same variant update one line, and
    concurrent adds of different variants never take the cart past its line limit."""
    lock_cart(cart)
    variant = _buyable_variant(variant_id)
    same_line = sa.select(CartLine.quantity).where(
        CartLine.cart_id == cart.id, CartLine.variant_id == variant_id
    )
    lines_now = sa.select(sa.func.count()).where(CartLine.cart_id == cart.id)
    existing, lines = db.session.execute(
        sa.select(same_line.scalar_subquery(), lines_now.scalar_subquery())
    ).one()
    if existing is None:
        limit = current_app.config["CART_MAX_LINES"]
        if lines >= limit:
            raise CartError(
                f"Your cart can hold {limit} different items at most. Remove one "
                "or save it for later first.",
                code=CART_FULL,
            )
    # One statement adds to the line or creates it, so concurrent adds cannot lose counts;
    # it answers with the line's quantity now.
    insert = upsert(CartLine).values(
        cart_id=cart.id,
        variant_id=variant_id,
        quantity=quantity,
        unit_price_snapshot=variant.price,
        added_at=utcnow(),
    )
    wanted = db.session.execute(
        insert.on_conflict_do_update(
            index_elements=["cart_id", "variant_id"],
            set_={
                "quantity": CartLine.quantity + insert.excluded.quantity,
                "unit_price_snapshot": insert.excluded.unit_price_snapshot,
            },
        ).returning(CartLine.quantity)
    ).scalar_one()
    final, messages = _cap(cart, variant, wanted)
    if final != wanted:
        db.session.execute(
            sa.update(CartLine)
            .where(
                CartLine.cart_id == cart.id,
                CartLine.variant_id == variant_id,
                CartLine.quantity > final,
            )
            .values(quantity=final)
            .execution_options(synchronize_session=False)
        )
    touch(cart)
    db.session.expire(cart, ["lines"])
    return CartChange(final, messages, item_name(variant))


def item_name(variant: Variant) -> str:
    """A line as a shopper names it: "Urban Hemp Jacket, size: M"."""
    if variant.options:
        return f"{variant.product.name}, {variant.options_label}"
    return variant.product.name


def _own_line(cart: Cart, line_id: int) -> CartLine:
    line = db.session.execute(
        sa.select(CartLine)
        .where(CartLine.id == line_id, CartLine.cart_id == cart.id)
        .options(joinedload(CartLine.variant).joinedload(Variant.product))
    ).scalar_one_or_none()
    if line is None:
        raise LookupError("no such line in this cart")
    return line


def set_quantity(cart: Cart, line_id: int, quantity: int) -> CartChange:
    line = _own_line(cart, line_id)
    final, messages = _cap(cart, line.variant, quantity)
    if final < 1:
        raise CartError(f"Sorry, {line.variant.product.name} is out of stock.", code=OUT_OF_STOCK)
    line.quantity = final
    line.unit_price_snapshot = line.variant.price  # they saw the line's price as it is now
    touch(cart)
    db.session.flush()
    return CartChange(final, messages, item_name(line.variant))


def remove_line(cart: Cart, line_id: int) -> str:
    line = _own_line(cart, line_id)
    name = item_name(line.variant)
    db.session.delete(line)
    touch(cart)
    db.session.flush()
    return name


def clear_cart(cart: Cart) -> None:
    db.session.execute(sa.delete(CartLine).where(CartLine.cart_id == cart.id))
    db.session.expire(cart, ["lines"])
    cart.voucher_code = None
    touch(cart)


def apply_code(cart: Cart, text: str) -> tuple[str, str | None]:
    """Put a voucher code on the cart (one per cart: it replaces the one there). Refused with
    :class:`~app.promotions.services.PromotionError` saying why when it gives this cart
    nothing now. Returns the code as stored and the code it replaced, if any."""
    view = build_cart_view(cart)
    if not view.lines:
        raise PromotionError("Add something to your cart before entering a code.", field="code")
    shopper = Shopper(user_id=cart.user_id, own_orders=own_unpaid_orders(cart))
    code = check_code(text, shopper).code
    problem = deal_for(promotion_lines(view), code=code, shopper=shopper).code_problem
    if problem:
        raise PromotionError(problem, field="code")
    replaced = cart.voucher_code if cart.voucher_code != code else None
    cart.voucher_code = code
    touch(cart)
    db.session.flush()
    return code, replaced


def forget_code(cart_id: int, code: str) -> bool:
    """Take ``code`` off the cart if it is still the cart's code (a paid order used it)."""
    return bool(
        affected(
            sa.update(Cart)
            .where(Cart.id == cart_id, Cart.voucher_code == code)
            .values(voucher_code=None)
            .execution_options(synchronize_session=False)
        )
    )


def remove_code(cart: Cart) -> str | None:
    """Take the cart's code off; returns it (None when there was none)."""
    code, cart.voucher_code = cart.voucher_code, None
    touch(cart)
    db.session.flush()
    return code


def save_for_later(cart: Cart, line_id: int) -> str:
    line = _own_line(cart, line_id)
    owner = {"user_id": cart.user_id} if cart.user_id else {"cart_id": cart.id}
    key = ["user_id", "variant_id"] if cart.user_id else ["cart_id", "variant_id"]
    db.session.execute(
        upsert(SavedItem)
        .values(variant_id=line.variant_id, created_at=utcnow(), **owner)
        .on_conflict_do_nothing(index_elements=key)
    )
    name = item_name(line.variant)
    db.session.delete(line)
    touch(cart)
    db.session.flush()
    return name


def move_to_cart(cart: Cart, saved_id: int) -> CartChange:
    saved = db.session.execute(
        sa.select(SavedItem).where(SavedItem.id == saved_id, saved_filter(cart))
    ).scalar_one_or_none()
    if saved is None:
        raise LookupError("no such saved item")
    change = add_item(cart, saved.variant_id, 1)
    db.session.delete(saved)
    db.session.flush()
    return change


def remove_saved(cart: Cart, saved_id: int) -> None:
    deleted = affected(sa.delete(SavedItem).where(SavedItem.id == saved_id, saved_filter(cart)))
    if not deleted:
        raise LookupError("no such saved item")


def acknowledge_prices(view: CartView) -> None:
    """The shopper has seen today's prices (they changed the cart, or went on to pay): the
    "was" notices end. Only changes made on purpose call this, never a page view."""
    changed = [lv.line.id for lv in view.lines if lv.price_was is not None]
    for line_id in changed:
        db.session.execute(
            sa.update(CartLine)
            .where(CartLine.id == line_id)
            .values(
                unit_price_snapshot=sa.select(Variant.price)
                .where(Variant.id == CartLine.variant_id)
                .scalar_subquery()
            )
            .execution_options(synchronize_session=False)
        )


def purge_expired(batch_size: int = 500) -> int:
    """Delete expired carts in batches (their lines and saved items cascade)."""
    ids = list(
        db.session.execute(
            sa.select(Cart.id).where(Cart.expires_at <= utcnow()).limit(batch_size)
        ).scalars()
    )
    if ids:
        db.session.execute(sa.delete(SavedItem).where(SavedItem.cart_id.in_(ids)))
        db.session.execute(sa.delete(CartLine).where(CartLine.cart_id.in_(ids)))
        db.session.execute(sa.delete(Cart).where(Cart.id.in_(ids)))
    return len(ids)

"""What a cart looks like now: every line at today's catalog price and this cart's stock,
with the problem (if any) that stops it being checked out. Reads only, in a constant number
of queries; the verbs that change a cart are in :mod:`app.cart.services`."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.cart.models import Cart, CartLine, SavedItem
from app.catalog.models import Category, Product, ProductStatus, Variant
from app.extensions import db
from app.promotions.rules import NO_DEAL, Deal, Line
from app.promotions.services import Shopper, deal_for

if TYPE_CHECKING:
    from app.orders.models import Order


def own_reservations(cart: Cart) -> dict[int, int]:
    """Units that this cart's own unpaid orders still hold, per variant id.

    Starting a payment reserves the cart's lines. Until that order is paid, cancelled or
    expires, the cart must not count its own reservation as stock that is gone. Otherwise a
    retry (a double tap, the back button, the API's safe retry) is told "Only N left" about
    the units it already holds, and the line is blocked as soon as the cart holds more than
    half of what is left. Counting them as available for this cart never oversells: a new
    payment attempt cancels these orders (releasing the units) before it reserves again, and
    the reservation itself is a conditional update on the shelf's real numbers.

    "Own" is :func:`app.orders.services.placed_from`, as for the checkout's reuse of a
    pending order.
    """
    from app.orders.models import Order, OrderLine
    from app.orders.services import holding_stock, placed_from

    rows = db.session.execute(
        sa.select(OrderLine.variant_id, sa.func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(placed_from(cart), holding_stock(), OrderLine.variant_id.is_not(None))
        .group_by(OrderLine.variant_id)
    ).all()
    return {variant_id: int(quantity) for variant_id, quantity in rows if variant_id is not None}


def _own_held(signed_in: bool, *, with_cart: bool = False) -> sa.ScalarSelect[int]:
    """:func:`own_reservations` of the line's variant, as a column of the cart's lines query
    (no round trip of its own); the cart's owner as bound parameters (placed_from_values).
    ``with_cart``: the statement reads the cart too, and the cart's id is its column."""
    from app.orders.models import Order, OrderLine
    from app.orders.services import holding_stock, placed_from_bound

    held = (
        sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            placed_from_bound(signed_in, cart_id=Cart.id if with_cart else None),
            holding_stock(),
            OrderLine.variant_id == CartLine.variant_id,
        )
    )
    outer = (CartLine, Cart) if with_cart else (CartLine,)
    return held.correlate(*outer).scalar_subquery()


def _line_options(shown: bool) -> list[Any]:
    product = joinedload(CartLine.variant).joinedload(Variant.product)
    if shown:  # joined, not a query of their own: a cart has few lines, a product few pictures
        return [product.joinedload(Product.category), product.joinedload(Product.images)]
    # Paying reads a product's name and status and its category's path, nothing more.
    return [
        product.load_only(Product.name, Product.status),
        product.joinedload(Product.category).load_only(Category.id_path),
    ]


@functools.cache
def locked_cart_statement(*, signed_in: bool, dialect: str) -> sa.Select[Any]:
    """The shopper's cart read with its row lock and, in the same statement, its lines as
    paying reads them (:func:`build_cart_view` with ``shown=False``): a press of Pay, and
    in a rush for the last units most presses are refused right after it, with this one
    statement. The owner bound: ``user_id`` (signed in), else ``token`` and its hash
    ``owner_token`` (:func:`app.orders.services.placed_from_values`). Built once per process
    and database (``dialect``: its name).

    Each row is the cart, one of its lines (None for an empty cart) and that line's units
    the cart's own unpaid orders hold; the lines' rows and the stock are read, not locked
    (paying locks the stock last, app/inventory/services.py).

    PostgreSQL reads the joined rows as of the statement's start, and locks the cart when it
    gets to it: lines changed by whoever held the cart meanwhile would be older than the
    lock. A fourth column, ``unchanged``, says whether the cart row it locked is the version
    the statement read (False: changed and committed in between, so the lines are to be
    read again). Every change of a cart's lines made under the cart's lock updates the
    cart's row (:func:`app.cart.services.touch`); a holder that changes no line (a second
    press, the details form) leaves it as it was, and the lines are current. The one writer
    that changes lines without the cart's lock is a completed payment taking what it bought
    out of the cart (it locks its order first); its order then no longer holds stock, which
    paying notices (:func:`app.checkout.services._prepare` reads the lines again)."""
    if signed_in:
        owner = Cart.user_id == sa.bindparam("user_id", type_=sa.Integer)
    else:
        token = sa.bindparam("token", type_=Cart.token.type)
        owner = sa.and_(Cart.token == token, Cart.user_id.is_(None))
    query: Any = (
        sa.select(Cart, CartLine, _own_held(signed_in, with_cart=True))
        .outerjoin(CartLine, CartLine.cart_id == Cart.id)
        .where(owner)
        .order_by(CartLine.id)
        .options(*_line_options(shown=False))
        .execution_options(populate_existing=True)
    )
    if dialect != "postgresql":  # SQLite: a form post holds the database's write lock
        return query
    # The cart as the statement read it, beside the version its lock found (a row updated
    # meanwhile is locked at its newest version; an unlocked table keeps what it read).
    seen = Cart.__table__.alias("seen")
    unchanged = sa.literal_column("seen.ctid = carts.ctid", sa.Boolean).label("unchanged")
    return query.add_columns(unchanged).join(seen, seen.c.id == Cart.id).with_for_update(of=Cart)


LINES_READ = "cart lines read with the cart's lock"


def read_locked_cart(owner: dict[str, object]) -> Cart | None:
    """The cart of ``owner`` (``user_id``, else ``token``) read with its row lock by
    :func:`locked_cart_statement`; its lines go to this transaction's next
    :func:`build_cart_view` for paying, once (a later view reads them again), unless the cart
    changed while the statement waited for the lock: then they are read again."""
    from app.orders.services import cart_token_hash

    signed_in = "user_id" in owner
    if signed_in:
        values = {**owner, "owner_user": owner["user_id"]}
    else:
        values = {**owner, "owner_token": cart_token_hash(str(owner["token"]))}
    dialect = db.engine.dialect.name
    statement = locked_cart_statement(signed_in=signed_in, dialect=dialect)
    rows = db.session.execute(statement, values).all()
    if not rows:
        return None
    cart: Cart = rows[0][0]
    lines = [(row[1], row[2]) for row in rows if row[1] is not None]
    if dialect == "postgresql" and not rows[0][3]:
        # Those it read are forgotten (a removed line included: its variant is taken
        # before the line is expired, which would reload it).
        for line, _ in lines:
            variant = line.variant
            db.session.expire(line)
            db.session.expire(variant)
        return cart
    db.session.info[LINES_READ] = (db.session().get_transaction(), cart.id, lines)
    return cart


def _lines_read(cart: Cart) -> list[tuple[CartLine, int]] | None:
    transaction, cart_id, rows = db.session.info.pop(LINES_READ, (None, None, None))
    current = db.session().get_transaction()
    if cart_id != cart.id or current is None or transaction is not current:
        return None
    return rows


@functools.cache
def _lines_statement(*, shown: bool, own: bool, signed_in: bool) -> sa.Select[Any]:
    """The cart's lines with their variants and products (and pictures when ``shown``, and
    the cart's own reservations per line unless ``own``), built once per process: building
    it is a third of a cart page's database work (SQLAlchemy caches the SQL, not the
    statement objects), and every cart runs it with its own bound values."""
    options = _line_options(shown)
    columns: list[Any] = [CartLine]
    if not own:
        columns.append(_own_held(signed_in))
    return (
        sa.select(*columns)
        .where(CartLine.cart_id == sa.bindparam("cart_id"))
        .order_by(CartLine.id)
        .options(*options)
    )


def held_by(orders: Iterable[Order]) -> dict[int, int]:
    """:func:`own_reservations` from the cart's own orders in hand (their lines loaded)."""
    from app.orders.services import holds_stock

    held: dict[int, int] = {}
    for order in orders:
        if holds_stock(order):
            for line in order.lines:
                if line.variant_id is not None:
                    held[line.variant_id] = held.get(line.variant_id, 0) + line.quantity
    return held


def available_for(variant: Variant, own: int) -> int | None:
    """Units this cart can have: what is left on the shelf plus what it reserved itself."""
    if not variant.track_inventory:
        return None
    return max(variant.stock_on_hand - variant.reserved + own, 0)


def _saved_owner(signed_in: bool) -> Any:
    """Whose saved-for-later items: a signed-in shopper's (by user), a guest cart's (by cart)."""
    return SavedItem.user_id if signed_in else SavedItem.cart_id


def _saved_owner_value(cart: Cart) -> int:
    return cart.user_id if cart.user_id else cart.id


def saved_filter(cart: Cart):
    return _saved_owner(bool(cart.user_id)) == _saved_owner_value(cart)


@functools.cache
def _saved_statement(*, signed_in: bool) -> sa.Select[Any]:
    """The saved-for-later list of a signed-in shopper (``owner``: their id) or a guest cart
    (``owner``: its id), with pictures; built once (see :func:`_lines_statement`)."""
    return (
        sa.select(SavedItem)
        .where(_saved_owner(signed_in) == sa.bindparam("owner"))
        .order_by(SavedItem.id.desc())
        .options(
            joinedload(SavedItem.variant).joinedload(Variant.product).selectinload(Product.images)
        )
    )


def count_items(cart_id: int) -> int:
    return db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(CartLine.quantity), 0)).where(
            CartLine.cart_id == cart_id
        )
    ).scalar_one()


@dataclass
class LineView:
    line: CartLine
    unit_price: int
    line_total: int
    price_was: int | None
    problem: str | None  # why it cannot be checked out now
    available: int | None = None  # units this cart can have (None: not tracked)


@dataclass
class CartView:
    cart: Cart | None
    lines: list[LineView]
    saved: list[SavedItem]
    subtotal: int
    item_count: int
    currency: str
    deal: Deal = NO_DEAL  # the promotions the lines get (delivery and tax come at checkout)
    # What the cart's own unpaid orders hold, per variant id, as the stock was judged with.
    own: dict[int, int] = field(default_factory=dict)

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and all(lv.problem is None for lv in self.lines)

    @property
    def discount(self) -> int:
        return self.deal.items_discount

    @property
    def after_discounts(self) -> int:
        return self.subtotal - self.discount


def own_unpaid_orders(cart: Cart) -> list[int]:
    """The ids of the cart's own unpaid orders that still hold what they reserved."""
    from app.orders.models import Order
    from app.orders.services import holding_stock, placed_from

    return list(
        db.session.execute(sa.select(Order.id).where(placed_from(cart), holding_stock())).scalars()
    )


def promotion_lines(view: CartView) -> list[Line]:
    """The lines promotions look at: the ones that can be bought now, at today's prices."""
    return [
        Line(
            key=lv.line.variant_id,
            product_id=lv.line.variant.product_id,
            category_path=(
                lv.line.variant.product.category.id_path if lv.line.variant.product.category else ""
            ),
            amount=lv.line_total,
        )
        for lv in view.lines
        if lv.problem is None
    ]


def deal_of(view: CartView, *, email: str = "") -> Deal:
    """The discounts of ``view``'s cart; ``email`` (the checkout's) for per-customer limits."""
    cart = view.cart
    if cart is None:
        return NO_DEAL
    code = cart.voucher_code
    shopper = Shopper(
        user_id=cart.user_id,
        email=email,
        own_orders=own_unpaid_orders(cart) if code else (),
    )
    return deal_for(promotion_lines(view), code=code, shopper=shopper)


def build_cart_view(
    cart: Cart | None, *, shown: bool = True, own: dict[int, int] | None = None
) -> CartView:
    """Current catalog prices and stock for every line, in a constant number of queries.
    Reading a cart never writes to it. ``shown=False``: for paying, not for a page — no
    pictures and no saved-for-later list (two queries fewer); ``own``: the cart's own
    reservations, when the caller has its unpaid orders in hand already.

    A price that changed since the shopper last acted on a line is shown as "was X" until
    they act on the cart again (:func:`acknowledge_prices`). Stock is what this cart can
    have, its own unpaid orders' reservations included (:func:`own_reservations`, a column of
    the lines query).
    """
    currency = current_app.config["SHOP_CURRENCY"]
    if cart is None:
        return CartView(None, [], [], 0, 0, currency)
    from app.orders.services import placed_from_values

    rows: Any = _lines_read(cart) if not shown and own is None else None
    if rows is None:
        signed_in = bool(cart.user_id)
        statement = _lines_statement(shown=shown, own=own is not None, signed_in=signed_in)
        values: dict[str, Any] = {"cart_id": cart.id}
        if own is None:
            values.update(placed_from_values(cart))
        rows = db.session.execute(statement, values).unique().all()
    lines = [row[0] for row in rows]
    if own is None:
        own = {row[0].variant_id: int(row[1]) for row in rows if row[1]}
    saved: list[SavedItem] = []
    if shown:
        statement = _saved_statement(signed_in=bool(cart.user_id))
        owner = {"owner": _saved_owner_value(cart)}
        saved = list(db.session.execute(statement, owner).unique().scalars())
    views = []
    for line in lines:
        variant = line.variant
        price_was = None
        if line.unit_price_snapshot != variant.price:
            price_was = line.unit_price_snapshot
        available = available_for(variant, own.get(variant.id, 0))
        problem = None
        if variant.product.status != ProductStatus.PUBLISHED:
            problem = "This product is no longer sold. Remove it to check out."
        elif available == 0:
            problem = "Out of stock. Remove it or save it for later to check out."
        elif available is not None and line.quantity > available:
            problem = f"Only {available} left. Lower the quantity to check out."
        views.append(
            LineView(
                line,
                variant.price,
                variant.price * line.quantity,
                price_was,
                problem,
                available,
            )
        )
    subtotal = sum(v.line_total for v in views if v.problem is None)
    count = sum(v.line.quantity for v in views)
    view = CartView(cart, views, saved, subtotal, count, currency, own=own)
    view.deal = deal_of(view)
    return view

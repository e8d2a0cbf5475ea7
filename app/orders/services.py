"""Order verbs: place (reserving stock), pay (stock becomes sold), cancel/expire (released).

Stock changes are conditional UPDATEs checked by row count, taken in variant-id order, so
concurrent checkouts on any number of app instances can neither oversell nor deadlock; a
failed reservation rolls back to a savepoint, leaving nothing half-reserved.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from app.core.shop_errors import ShopError
from app.db import affected, savepoint, utcnow
from app.db_rows import insert_new
from app.extensions import db
from app.inventory.services import (
    InsufficientStock,
    release,
    reserve_lines,
    sell,
)
from app.orders.models import (
    CancelReason,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from app.orders.pricing import Quote
from app.orders.states import PAID_STATES, UNPAID, transition
from app.promotions import uses

if TYPE_CHECKING:
    from app.cart.models import Cart

log = logging.getLogger(__name__)
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


class CheckoutError(ShopError):
    """Checkout cannot go on. The message names the line and what to do, for people; ``code``
    says why, for programs (the API's problem code; the codes are in app/checkout/errors.py)."""

    code = "checkout-rejected"


def cart_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def placed_from(cart: Cart) -> sa.ColumnElement[bool]:
    """The orders the cart's owner placed from ``cart``: the one proof of ownership that the
    checkout's reuse of a pending order, the cart's stock, a guest's status polling, payment
    clearing the cart and the sign-in merge all share.

    A signed-in user's cart: the cart and the user. A guest cart: the cart and the hash of
    its token, because SQLite hands a deleted cart's id to the next new cart and the id alone
    would make another guest the owner of the old cart's orders.
    """
    return _placed_from(
        bool(cart.user_id), cart.id, cart.user_id, cart_token_hash(cart.token or "")
    )


def _placed_from(signed_in: bool, cart_id: Any, user_id: Any, token_hash: Any) -> Any:
    if signed_in:
        return sa.and_(Order.cart_id == cart_id, Order.user_id == user_id)
    return sa.and_(
        Order.cart_id == cart_id, Order.user_id.is_(None), Order.cart_token_hash == token_hash
    )


def placed_from_bound(signed_in: bool, *, cart_id: Any = None) -> sa.ColumnElement[bool]:
    """:func:`placed_from` with bound parameters (``owner_cart``, ``owner_user``,
    ``owner_token``), for a statement built once and run for any cart with
    :func:`placed_from_values`. ``cart_id``: the cart's id as a column of the statement (the
    cart read in the same statement) instead of ``owner_cart``."""
    return _placed_from(
        signed_in,
        sa.bindparam("owner_cart") if cart_id is None else cart_id,
        sa.bindparam("owner_user"),
        sa.bindparam("owner_token"),
    )


def placed_from_values(cart: Cart) -> dict[str, Any]:
    if cart.user_id:
        return {"owner_cart": cart.id, "owner_user": cart.user_id}
    return {"owner_cart": cart.id, "owner_token": cart_token_hash(cart.token or "")}


def cart_of(order: Order) -> Cart | None:
    """The cart ``order`` was placed from, while it exists and is still its owner's."""
    from app.cart.models import Cart

    if order.cart_id is None:
        return None
    cart = db.session.get(Cart, order.cart_id)
    if cart is None:
        return None
    if order.user_id is not None:
        return cart if cart.user_id == order.user_id else None
    if cart.user_id is None and cart.token and order.cart_token_hash is not None:
        return cart if order.cart_token_hash == cart_token_hash(cart.token) else None
    return None


def holding_stock() -> sa.ColumnElement[bool]:
    """Unpaid orders whose reservation is still held (:func:`holds_stock` for one in hand)."""
    return sa.and_(
        Order.status.in_(UNPAID),
        Order.reservation_released_at.is_(None),
        Order.stock_committed_at.is_(None),
    )


def holds_stock(order: Order) -> bool:
    """:func:`holding_stock` for an order in hand."""
    return (
        order.status in UNPAID
        and order.reservation_released_at is None
        and order.stock_committed_at is None
    )


def new_order_number() -> str:
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"SS-{chars[:4]}-{chars[4:]}"


def place_order(
    quote: Quote,
    *,
    email: str,
    user_id: int | None,
    cart_id: int | None,
    shipping_address: dict[str, Any],
    billing_address: dict[str, Any],
) -> Order:
    """Create the order and reserve its stock, all or nothing (:func:`write_order`, then
    :func:`reserve_order`, in a savepoint)."""
    with savepoint():
        order = write_order(
            quote,
            email=email,
            user_id=user_id,
            cart_id=cart_id,
            shipping_address=shipping_address,
            billing_address=billing_address,
        )
        reserve_order(order, quote)
    return order


def write_order(
    quote: Quote,
    *,
    email: str,
    user_id: int | None,
    cart_id: int | None,
    shipping_address: dict[str, Any],
    billing_address: dict[str, Any],
    terms_accepted_at: datetime | None = None,
    reservation_expires_at: datetime | None = None,
    flush: bool = True,
) -> Order:
    """The order's own rows — the order, its lines, its discounts (held) and its first event —
    without its stock or its codes' uses (:func:`reserve_order` takes those). Nothing another
    shopper waits on is locked by these inserts. A guest's order remembers the hash of its
    cart's token (see :func:`placed_from`). Written with plain INSERTs, not a flush
    (:func:`app.db_rows.insert_new`). ``flush=False``: built only, not written nor in the
    session, for a caller that writes it with rows of its own (:func:`order_rows` lists
    them)."""
    from app.cart.models import Cart

    if not quote.lines:
        raise CheckoutError("Your cart is empty.", code="cart-empty")
    token = None
    if cart_id is not None and user_id is None:
        cart = db.session.get(Cart, cart_id)  # the caller's, usually: no round trip
        token = cart.token if cart is not None else None
    if reservation_expires_at is None:
        minutes = current_app.config["RESERVATION_MINUTES"]
        reservation_expires_at = utcnow() + timedelta(minutes=minutes)
    order = Order(
        number=new_order_number(),
        user_id=user_id,
        email=email.strip().lower(),
        currency=quote.currency,
        subtotal=quote.subtotal,
        shipping=quote.shipping,
        tax=quote.tax,
        tax_inclusive=quote.tax_inclusive,
        discount=quote.discount,
        total=quote.total,
        shipping_method=quote.shipping_method,
        shipping_address=shipping_address,
        billing_address=billing_address,
        status=OrderStatus.PENDING_PAYMENT,
        cart_id=cart_id,
        cart_token_hash=cart_token_hash(token) if token else None,
        reservation_expires_at=reservation_expires_at,
        terms_accepted_at=terms_accepted_at,
        needs_attention="",
        # A new order has none of these yet: known empty, never fetched.
        discounts=[],
        payments=[],
    )
    for line in quote.lines:
        order.lines.append(
            OrderLine(
                variant_id=line.variant_id,
                product_name=line.product_name,
                variant_options=line.variant_options,
                sku=line.sku,
                unit_price=line.unit_price,
                quantity=line.quantity,
                tax=line.tax,
                line_total=line.line_total,
                discount=line.discount,
            )
        )
    uses.record(order, quote.discounts)
    OrderEvent(
        order=order,  # among its events
        from_status="",
        to_status=order.status,
        note="order placed",
        created_at=utcnow(),
    )
    if flush:
        insert_new(order_rows(order))
    return order


def order_rows(order: Order) -> list[Any]:
    """A new order's rows as :func:`write_order` built them, parents first."""
    return [order, *order.lines, *order.discounts, *order.events]


def reserve_order(order: Order, quote: Quote) -> None:
    """The order's stock, then its codes' uses: the rows other shoppers wait on, locked from
    here to the caller's commit (stock by variant id, then products, then codes: the lock
    order of app/inventory/services.py). Raises CheckoutError naming the line short of
    stock, or the code used up; the caller rolls the order back."""
    try:
        reserve_lines(
            [(line.variant_id, line.quantity) for line in quote.lines], reference=order.number
        )
    except InsufficientStock as exc:
        name = next(
            (ln.product_name for ln in quote.lines if ln.variant_id == exc.variant_id), "it"
        )
        raise CheckoutError(
            f"Sorry, there is not enough {name} left for your order. Lower the "
            "quantity or remove it from your cart.",
            code="insufficient-stock",
        ) from None
    try:
        uses.take(order, quote.discounts)
    except uses.VoucherUnavailable as exc:
        raise CheckoutError(str(exc), code=exc.code) from None


def release_reservation(order: Order, *, reason: str = "released") -> bool:
    """Give reserved units back, exactly once per order. Returns whether it did anything."""
    claimed = affected(
        sa.update(Order)
        .where(
            Order.id == order.id,
            Order.reservation_released_at.is_(None),
            Order.stock_committed_at.is_(None),
        )
        .values(reservation_released_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not claimed:
        return False
    release(
        [(ln.variant_id, ln.quantity) for ln in order.lines], reference=order.number, note=reason
    )
    uses.release(order.id)  # a code's use held by the unpaid order is free again
    db.session.refresh(order)
    return True


@dataclass
class PaidOutcome:
    fulfilled: bool  # this call turned the order paid (False: it already was)
    needs_refund: bool = False


def commit_sale(order: Order, *, actor_id: int | None = None) -> PaidOutcome:
    """Payment confirmed: reserved units become sold, exactly once, and the order is paid.

    If the reservation had already been released (the order was cancelled because its checkout
    expired, then a payment the provider had accepted arrived), stock is reserved again when it
    allows and the order comes back as paid; otherwise it is flagged for staff and a refund.
    """
    if order.status in PAID_STATES or order.stock_committed_at is not None:
        return PaidOutcome(fulfilled=False)
    if order.status == OrderStatus.CANCELLED and order.cancel_reason != CancelReason.EXPIRED:
        return PaidOutcome(fulfilled=False, needs_refund=True)  # replaced, or cancelled on purpose
    claimed = affected(
        sa.update(Order)
        .where(Order.id == order.id, Order.stock_committed_at.is_(None))
        .values(stock_committed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not claimed:
        return PaidOutcome(fulfilled=False)
    db.session.refresh(order)
    if order.reservation_released_at is not None:
        try:
            with savepoint():
                reserve_lines(
                    [(line.variant_id, line.quantity) for line in order.lines],
                    reference=order.number,
                )
        except InsufficientStock:
            order.stock_committed_at = None
            order.needs_attention = "Paid after its reservation expired and stock ran out."
            db.session.flush()
            return PaidOutcome(fulfilled=False, needs_refund=True)
    sell(
        [(ln.variant_id, ln.quantity) for ln in order.lines],
        reference=order.number,
        actor_id=actor_id,
    )
    if order.status == OrderStatus.PAYMENT_FAILED:
        transition(order, OrderStatus.PENDING_PAYMENT, note="payment retried")
    revived = order.status == OrderStatus.CANCELLED
    transition(
        order,
        OrderStatus.PAID,
        actor_id=actor_id,
        note="payment confirmed after the checkout had expired" if revived else "payment confirmed",
    )
    order.cancel_reason = ""
    order.paid_at = utcnow()
    uses.count_paid(order.id, order.number)
    db.session.flush()
    return PaidOutcome(fulfilled=True)


def cancel_unpaid(
    order: Order, *, note: str, reason: CancelReason, actor_id: int | None = None
) -> bool:
    """Expired, replaced or cancelled before payment: cancel and release the reservation
    once. ``reason`` decides what a payment arriving later does (see :func:`commit_sale`)."""
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED):
        return False
    transition(order, OrderStatus.CANCELLED, actor_id=actor_id, note=note)
    order.cancel_reason = reason
    release_reservation(order, reason=note)
    return True


def list_expired_reservations(limit: int = 200) -> list[Order]:
    return list(
        db.session.execute(
            sa.select(Order)
            .where(
                Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED]),
                Order.reservation_expires_at < utcnow(),
                # Flagged for staff (say, paid a different amount): a person settles it.
                Order.needs_attention == "",
            )
            .order_by(Order.id)
            .limit(limit)
        ).scalars()
    )

"""Order verbs: place (reserving stock), pay (stock becomes sold), cancel/expire (released).

Stock changes are conditional UPDATEs checked by row count, taken in variant-id order, so
concurrent checkouts on any number of app instances can neither oversell nor deadlock; a
failed reservation rolls back to a savepoint, leaving nothing half-reserved.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from app.catalog.models import Product, StockMovement, StockReason, Variant
from app.catalog.services import refresh_product_summary
from app.db import utcnow
from app.extensions import db
from app.orders.models import (
    CancelReason,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from app.orders.pricing import Quote
from app.orders.states import PAID_STATES, transition

if TYPE_CHECKING:
    from app.cart.models import Cart

log = logging.getLogger(__name__)
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


class CheckoutError(ValueError):
    """Checkout cannot go on. The message names the line and what to do, for people; ``code``
    says why, for programs (the API's problem code; see app/checkout/errors.py)."""

    def __init__(self, message: str, *, code: str = "insufficient-stock") -> None:
        super().__init__(message)
        self.code = code


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
    if cart.user_id:
        return sa.and_(Order.cart_id == cart.id, Order.user_id == cart.user_id)
    return sa.and_(
        Order.cart_id == cart.id,
        Order.user_id.is_(None),
        Order.cart_token_hash == cart_token_hash(cart.token or ""),
    )


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
    """Unpaid orders whose reservation is still held."""
    return sa.and_(
        Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED]),
        Order.reservation_released_at.is_(None),
        Order.stock_committed_at.is_(None),
    )


def new_order_number() -> str:
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"SS-{chars[:4]}-{chars[4:]}"


def _reserve(variant_id: int, quantity: int, order_number: str, name: str) -> None:
    result = db.session.execute(
        sa.update(Variant)
        .where(
            Variant.id == variant_id,
            sa.or_(
                Variant.track_inventory.is_(False),
                Variant.stock_on_hand - Variant.reserved >= quantity,
            ),
        )
        .values(
            reserved=sa.case(
                (Variant.track_inventory.is_(True), Variant.reserved + quantity),
                else_=Variant.reserved,
            )
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise CheckoutError(
            f"Sorry, there is not enough {name} left for your order. Lower the "
            "quantity or remove it from your cart."
        )
    db.session.add(
        StockMovement(
            variant_id=variant_id,
            reserved_delta=quantity,
            reason=StockReason.RESERVATION,
            reference=order_number,
        )
    )


def place_order(
    quote: Quote,
    *,
    email: str,
    user_id: int | None,
    cart_id: int | None,
    shipping_address: dict[str, Any],
    billing_address: dict[str, Any],
) -> Order:
    """Create the order and reserve its stock, all or nothing. A guest's order remembers the
    hash of its cart's token (see :func:`placed_from`)."""
    from app.cart.models import Cart

    if not quote.lines:
        raise CheckoutError("Your cart is empty.", code="cart-empty")
    token = None
    if cart_id is not None and user_id is None:
        token = db.session.execute(
            sa.select(Cart.token).where(Cart.id == cart_id)
        ).scalar_one_or_none()
    minutes = current_app.config["RESERVATION_MINUTES"]
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
        reservation_expires_at=utcnow() + timedelta(minutes=minutes),
        needs_attention="",
    )
    savepoint = db.session.begin_nested()
    try:
        for line in sorted(quote.lines, key=lambda ln: ln.variant_id):  # fixed lock order
            _reserve(line.variant_id, line.quantity, order.number, line.product_name)
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
                )
            )
        db.session.add(order)
        db.session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    db.session.add(
        OrderEvent(
            order=order,
            from_status="",
            to_status=order.status,
            note="order placed",
            created_at=utcnow(),
        )
    )
    refresh_products([line.variant_id for line in quote.lines])
    db.session.flush()
    return order


def lock_stock(variant_ids: Iterable[int | None]) -> None:
    """Lock the variants, then their products, each in id order (PostgreSQL; SQLite's writers
    are serial). Every stock change takes its rows in this order — variants before products,
    ids ascending — so two checkouts can never wait on each other in a circle; a transaction
    that will release one order's stock and reserve another's locks both sets up front."""
    ids = sorted({i for i in variant_ids if i is not None})
    if not ids or db.engine.dialect.name != "postgresql":
        return
    # FOR NO KEY UPDATE: the lock the UPDATEs that follow take anyway. A plain FOR UPDATE
    # would also wait for (and block) rows being inserted that point at these ones — a cart
    # line added during a sign-in merge — and deadlock with it.
    db.session.execute(
        sa.select(Variant.id)
        .where(Variant.id.in_(ids))
        .order_by(Variant.id)
        .with_for_update(key_share=True)
    ).all()
    db.session.execute(
        sa.select(Product.id)
        .where(Product.id.in_(sa.select(Variant.product_id).where(Variant.id.in_(ids))))
        .order_by(Product.id)
        .with_for_update(key_share=True)
    ).all()


def refresh_products(variant_ids: Iterable[int | None]) -> None:
    """The listing summaries of the variants' products, in product-id order, after every
    variant row of the change was written (see :func:`lock_stock`)."""
    ids = sorted({i for i in variant_ids if i is not None})
    if not ids:
        return
    product_ids = db.session.execute(
        sa.select(Variant.product_id).where(Variant.id.in_(ids)).distinct()
    ).scalars()
    for product_id in sorted(product_ids):
        refresh_product_summary(product_id)


def release_reservation(order: Order, *, reason: str = "released") -> bool:
    """Give reserved units back, exactly once per order. Returns whether it did anything."""
    claimed = db.session.execute(
        sa.update(Order)
        .where(
            Order.id == order.id,
            Order.reservation_released_at.is_(None),
            Order.stock_committed_at.is_(None),
        )
        .values(reservation_released_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return False
    for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):
        if line.variant_id is None:
            continue
        db.session.execute(
            sa.update(Variant)
            .where(
                Variant.id == line.variant_id,
                Variant.track_inventory.is_(True),
                Variant.reserved >= line.quantity,
            )
            .values(reserved=Variant.reserved - line.quantity)
            .execution_options(synchronize_session=False)
        )
        db.session.add(
            StockMovement(
                variant_id=line.variant_id,
                reserved_delta=-line.quantity,
                reason=StockReason.RELEASE,
                reference=order.number,
                note=reason,
            )
        )
    refresh_products(line.variant_id for line in order.lines)
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
    claimed = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.stock_committed_at.is_(None))
        .values(stock_committed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return PaidOutcome(fulfilled=False)
    db.session.refresh(order)
    if order.reservation_released_at is not None:
        savepoint = db.session.begin_nested()
        try:
            for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):
                if line.variant_id is not None:
                    _reserve(line.variant_id, line.quantity, order.number, line.product_name)
        except CheckoutError:
            savepoint.rollback()
            order.stock_committed_at = None
            order.needs_attention = "Paid after its reservation expired and stock ran out."
            db.session.flush()
            return PaidOutcome(fulfilled=False, needs_refund=True)
        savepoint.commit()
    for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):
        if line.variant_id is None:
            continue
        db.session.execute(
            sa.update(Variant)
            .where(Variant.id == line.variant_id, Variant.track_inventory.is_(True))
            .values(
                stock_on_hand=Variant.stock_on_hand - line.quantity,
                reserved=Variant.reserved - line.quantity,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.add(
            StockMovement(
                variant_id=line.variant_id,
                on_hand_delta=-line.quantity,
                reserved_delta=-line.quantity,
                reason=StockReason.SALE,
                reference=order.number,
                actor_id=actor_id,
            )
        )
    refresh_products(line.variant_id for line in order.lines)
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

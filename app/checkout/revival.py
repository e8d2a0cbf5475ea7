"""A late payment revives an order cancelled because its checkout expired (a guest paying
through Stripe's recovery link, days later): what that does to the cart's newer checkouts.

:func:`prepare` runs before the sale (it takes the locks), :func:`supersede` after it;
:func:`app.checkout.completion.complete_session` calls both and tells staff what
:func:`supersede` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.cart.models import Cart
from app.checkout import sessions
from app.extensions import db
from app.inventory.services import lock_stock
from app.orders.models import CancelReason, Order, OrderLine, OrderStatus
from app.orders.services import cancel_unpaid, cart_of_shopper, placed_from
from app.orders.states import PAID_STATES, UNPAID

# Paid and not given back: an order refunded or returned since does not make a second purchase.
KEPT = sorted(PAID_STATES - {OrderStatus.REFUNDED, OrderStatus.RETURNED})


@dataclass
class Revival:
    cart: Cart | None
    variants: list[int]  # what the revived order bought
    newer: list[Order] = field(default_factory=list)  # unpaid, for some of the same, locked


def is_revival(order: Order) -> bool:
    return order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.EXPIRED


def revivable() -> sa.ColumnElement[bool]:
    """:func:`is_revival` as a condition on orders: the ones a late payment would revive."""
    return sa.and_(
        Order.status == OrderStatus.CANCELLED, Order.cancel_reason == CancelReason.EXPIRED
    )


def _of_the_shopper(order: Order, cart: Cart) -> sa.ColumnElement[bool]:
    """The orders of the shopper who placed ``order``: those placed from ``cart``, and when
    ``cart`` is the account's that the guest cart was merged into, also the guest cart's
    unpaid orders that the merge made the account's (same token hash, no cart)."""
    mine = placed_from(cart)
    if cart.user_id is None or order.user_id is not None or not order.cart_token_hash:
        return mine
    carried = sa.and_(Order.user_id == cart.user_id, Order.cart_token_hash == order.cart_token_hash)
    return sa.or_(mine, carried)


def prepare(order: Order) -> Revival:
    """Lock what the revival may change, in the lock order: the cart (as a press locks it; no
    path that holds a cart waits for a cancelled order, so the order held already is safe),
    its orders placed after ``order``, unpaid and for some of the same items (newest first),
    then the stock of all of them. With the cart held, a press under way has either committed
    its order, which this finds, or not begun. The cart is the one the shopper uses now: the
    account's when the guest has signed in since (:func:`cart_of_shopper`)."""
    cart = cart_of_shopper(order)
    variants = sorted({ln.variant_id for ln in order.lines if ln.variant_id is not None})
    revival = Revival(cart, variants)
    if cart is None or not variants:
        return revival
    db.session.execute(sa.select(Cart.id).where(Cart.id == cart.id).with_for_update())
    ids = list(
        db.session.execute(
            sa.select(Order.id)
            .where(
                _of_the_shopper(order, cart),
                Order.id > order.id,
                Order.status.in_(UNPAID),
                Order.id.in_(
                    sa.select(OrderLine.order_id).where(OrderLine.variant_id.in_(variants))
                ),
            )
            .order_by(Order.id.desc())
            .with_for_update(key_share=True, of=Order)
        ).scalars()
    )
    if ids:
        revival.newer = list(
            db.session.execute(
                sa.select(Order)
                .where(Order.id.in_(ids))
                .order_by(Order.id.desc())
                .options(selectinload(Order.lines))
                .execution_options(populate_existing=True)
            ).scalars()
        )
        # Their stock is released by supersede(): all of it locked up front.
        lock_stock([ln.variant_id for o in (order, *revival.newer) for ln in o.lines])
    return revival


def supersede(order: Order, revival: Revival) -> list[str]:
    """After ``order`` was revived and what it bought taken out of the cart: the newer
    checkouts :func:`prepare` found must not stay payable too. Each is cancelled as replaced
    and its sessions closed (the shopper pays what is left in the cart afresh). Returns the
    numbers of newer orders already paid for some of the same items, for staff: buying twice
    may be meant, so nothing is refunded on a guess."""
    for other in revival.newer:
        sessions.close_checkout(other)
        cancel_unpaid(
            other,
            note=f"replaced: order {order.number} of the same cart was paid through its "
            "expired checkout",
            reason=CancelReason.REPLACED,
        )
    if revival.cart is None or not revival.variants:
        return []
    return list(
        db.session.execute(
            sa.select(Order.number)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(
                _of_the_shopper(order, revival.cart),
                Order.id > order.id,
                Order.status.in_(KEPT),
                OrderLine.variant_id.in_(revival.variants),
            )
            .distinct()
            .order_by(Order.number)
        ).scalars()
    )

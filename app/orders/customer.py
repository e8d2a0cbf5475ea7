"""A customer's own orders, whichever door they come through: signed in on the website or in
the app, a guest with the signed link from their email, or a guest app with its cart token.
Anybody else's order does not exist (None), never "forbidden".
"""

from __future__ import annotations

import sqlalchemy as sa

from app.cart.models import Cart
from app.core.shop_errors import ShopError
from app.extensions import db
from app.orders.fulfilment import cancel_order, lock_order
from app.orders.links import read_order_token
from app.orders.models import CancelReason, Order, OrderStatus
from app.orders.services import placed_from
from app.orders.states import InvalidTransition

NUMBER_MAX_LENGTH = 20  # Order.number
CANCELLABLE = (OrderStatus.PAID, OrderStatus.PROCESSING)
NOT_CANCELLABLE = "This order can no longer be cancelled. Contact us about a return."


class NotCancellable(ShopError):
    code = "order-not-cancellable"

    def __init__(self) -> None:
        super().__init__(NOT_CANCELLABLE)


def own_order(number: str, user_id: int) -> Order | None:
    """One of a signed-in customer's orders."""
    if not number or len(number) > NUMBER_MAX_LENGTH:
        return None
    return db.session.execute(
        sa.select(Order).where(Order.number == number, Order.user_id == user_id)
    ).scalar_one_or_none()


def linked_order(token: str) -> Order | None:
    """The order a signed link (from the customer's email) names."""
    number = read_order_token(token) if len(token) <= 200 else None
    if not number or len(number) > NUMBER_MAX_LENGTH:
        return None
    return db.session.execute(sa.select(Order).where(Order.number == number)).scalar_one_or_none()


def cart_order(number: str, cart: Cart | None) -> Order | None:
    """A guest order placed from ``cart`` (the app polls it with the cart's token)."""
    if cart is None or not number or len(number) > NUMBER_MAX_LENGTH:
        return None
    return db.session.execute(
        sa.select(Order).where(Order.number == number, placed_from(cart))
    ).scalar_one_or_none()


def can_cancel(order: Order) -> bool:
    return order.status in CANCELLABLE


def cancel_by_customer(order: Order, *, actor_id: int | None) -> int:
    """Cancel before it ships: stock goes back, the payment is refunded (the staff verb, so
    it never repeats a staff refund or restock), and the audit log says who. Returns the
    amount being refunded; :class:`NotCancellable` when it has shipped (or was cancelled by
    a racing request) since it was read."""
    from app.accounts.audit import audit
    from app.core.templating import money

    locked = lock_order(order.id)
    if locked is None or not can_cancel(locked):
        raise NotCancellable()
    savepoint = db.session.begin_nested()
    try:
        refunded = cancel_order(
            locked, actor_id=actor_id, reason="cancelled by the customer", by=CancelReason.CUSTOMER
        )
    except InvalidTransition:
        savepoint.rollback()
        raise NotCancellable() from None
    savepoint.commit()
    audit(
        "orders.cancel",
        actor_id=actor_id,
        target=locked.number,
        detail=f"by the customer; refund {money(refunded, locked.currency)}",
    )
    return refunded

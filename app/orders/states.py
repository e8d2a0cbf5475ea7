"""The order state machine: one table of allowed transitions, enforced in one place."""

from __future__ import annotations

from app.db import utcnow
from app.extensions import db
from app.orders.models import Order, OrderEvent, OrderStatus

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset({S.PENDING_PAYMENT, S.CANCELLED}),
    S.PAID: frozenset({S.PROCESSING, S.CANCELLED, S.REFUNDED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.CANCELLED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.RETURNED, S.REFUNDED}),
    S.RETURNED: frozenset({S.REFUNDED}),
    # Cancelled because nobody paid in time, then the provider's accepted payment arrived:
    # paid after all when the stock is still there (app.orders.services.commit_sale).
    S.CANCELLED: frozenset({S.PAID, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}
# Waiting for a payment: its stock may be held and a session may still be paid.
UNPAID = frozenset({S.PENDING_PAYMENT, S.PAYMENT_FAILED})
# Once money was taken, an order never goes back to an unpaid state.
PAID_STATES = frozenset({S.PAID, S.PROCESSING, S.SHIPPED, S.DELIVERED, S.RETURNED, S.REFUNDED})
LABELS: dict[str, str] = {
    S.PENDING_PAYMENT: "Awaiting payment",
    S.PAYMENT_FAILED: "Payment failed",
    S.PAID: "Paid",
    S.PROCESSING: "Being prepared",
    S.SHIPPED: "Shipped",
    S.DELIVERED: "Delivered",
    S.CANCELLED: "Cancelled",
    S.RETURNED: "Returned",
    S.REFUNDED: "Refunded",
}


class InvalidTransition(ValueError):
    def __init__(self, order: Order, to: str) -> None:
        super().__init__(
            f"Order {order.number} cannot go from {LABELS.get(order.status, order.status)} "
            f"to {LABELS.get(to, to)}."
        )
        self.from_status, self.to_status = order.status, to


def can_transition(order: Order, to: str) -> bool:
    return to in TRANSITIONS.get(order.status, frozenset())


def transition(order: Order, to: str, *, actor_id: int | None = None, note: str = "") -> None:
    """Move an order to ``to`` and record who did it and why; refuses anything off the table."""
    if not can_transition(order, to):
        raise InvalidTransition(order, to)
    db.session.add(
        OrderEvent(
            order=order,
            from_status=order.status,
            to_status=to,
            actor_id=actor_id,
            note=note[:500],
            created_at=utcnow(),
        )
    )
    order.status = to
    db.session.flush()

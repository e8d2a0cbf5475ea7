"""Every pair of statuses: the allowed ones move and leave an event, the rest are refused."""

import itertools

import pytest

from app.orders.models import Order, OrderEvent, OrderStatus
from app.orders.states import TRANSITIONS, InvalidTransition, transition

ALL = list(OrderStatus)
EXPECTED = {
    ("pending_payment", "paid"),
    ("pending_payment", "payment_failed"),
    ("pending_payment", "cancelled"),
    ("payment_failed", "pending_payment"),
    ("payment_failed", "cancelled"),
    ("paid", "processing"),
    ("paid", "cancelled"),
    ("paid", "refunded"),
    ("processing", "shipped"),
    ("processing", "cancelled"),
    ("processing", "refunded"),
    ("shipped", "delivered"),
    ("shipped", "refunded"),
    ("delivered", "returned"),
    ("delivered", "refunded"),
    ("returned", "refunded"),
    ("cancelled", "paid"),
    ("cancelled", "refunded"),
}


def test_the_table_is_exactly_the_documented_lifecycle():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == EXPECTED


@pytest.mark.parametrize(("start", "to"), list(itertools.product(ALL, ALL)))
def test_every_transition(db, start, to):
    order = Order(
        number=f"SS-T{ALL.index(start):02d}{ALL.index(to):02d}-TEST",
        email="a@b.c",
        currency="EUR",
        subtotal=100,
        total=100,
        status=start,
    )
    db.session.add(order)
    db.session.flush()
    if (start, to) in EXPECTED:
        transition(order, to, actor_id=7, note="because")
        assert order.status == to
        event = db.session.query(OrderEvent).filter_by(order_id=order.id).one()
        assert (event.from_status, event.to_status, event.actor_id, event.note) == (
            start,
            to,
            7,
            "because",
        )
    else:
        with pytest.raises(InvalidTransition, match="cannot go from"):
            transition(order, to)
        assert order.status == start

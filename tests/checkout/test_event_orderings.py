"""Every ordering of the events one session can produce ends in a consistent state:
paid exactly once (stock sold once, one email) or cancelled with stock intact — never both,
never negative, and a paid order never goes back."""

import itertools

import pytest
import sqlalchemy as sa

from app.catalog.models import StockMovement, Variant
from app.extensions import db as _db
from app.notifications.models import Notification
from app.orders.models import OrderStatus
from app.payments.webhooks import process, store_event
from tests.catalog import factories
from tests.checkout.helpers import paid_sandbox_session
from tests.fakes.stripe_server import make_event
from tests.orders.helpers import order_for

EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
]


@pytest.mark.parametrize("ordering", list(itertools.permutations(EVENTS)))
def test_event_ordering_is_consistent(db, ordering):
    variant = factories.product("Order Mug", stock=5).variants[0]
    order = order_for([(variant, 2)])
    session_id = paid_sandbox_session(order, "perm")
    _db.session.flush()
    seen_paid = False
    for n, event_type in enumerate(ordering):
        row = store_event({**make_event(event_type, {"id": session_id}), "id": f"evt_{n}"})
        assert process(row.id) == "processed"
        _db.session.refresh(order)
        if order.status == OrderStatus.PAID:
            seen_paid = True
        if seen_paid:
            assert order.status == OrderStatus.PAID  # never goes back
    _db.session.expire_all()
    v = _db.session.get(Variant, variant.id)
    sales = _db.session.execute(
        sa.select(sa.func.count()).where(
            StockMovement.variant_id == variant.id, StockMovement.reason == "sale"
        )
    ).scalar()
    mails = _db.session.execute(
        sa.select(sa.func.count()).where(Notification.template == "order-confirmation")
    ).scalar()
    assert v.reserved == 0 and v.stock_on_hand >= 0
    if order.status == OrderStatus.PAID:
        assert (v.stock_on_hand, sales, mails) == (3, 1, 1)
    else:
        assert order.status == OrderStatus.CANCELLED
        assert (v.stock_on_hand, sales, mails) == (5, 0, 0)
        assert order.needs_attention  # a payment arrived for it: refunded and flagged

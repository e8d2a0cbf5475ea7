"""Every ordering of the events one session can produce ends in the state the provider
reports for the session, whatever the events claim: paid exactly once (stock sold once, one
email), cancelled with the stock back, or waiting for another try after a failed payment —
and a paid order never goes back."""

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


# What the provider says of the session -> (status, payment_status) and the end state:
# (order status, stock on hand, reserved, sales, confirmation emails).
OUTCOMES = {
    "paid": (("complete", "paid"), (OrderStatus.PAID, 3, 0, 1, 1)),
    "expired unpaid": (("expired", "unpaid"), (OrderStatus.CANCELLED, 5, 0, 0, 0)),
    "payment failed": (("complete", "unpaid"), (OrderStatus.PAYMENT_FAILED, 5, 2, 0, 0)),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize("ordering", list(itertools.permutations(EVENTS)))
def test_event_ordering_is_consistent(db, ordering, outcome):
    from app.payments.models import SandboxSession

    variant = factories.product("Order Mug", stock=5).variants[0]
    order = order_for([(variant, 2)])
    session_id = paid_sandbox_session(order, "perm")
    (status, payment_status), expected = OUTCOMES[outcome]
    row = _db.session.get(SandboxSession, session_id)
    row.status, row.payment_status = status, payment_status
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
    assert (order.status, v.stock_on_hand, v.reserved, sales, mails) == expected

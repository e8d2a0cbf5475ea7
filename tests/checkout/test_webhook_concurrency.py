"""The same event 20 times at once, plus completed and async_payment_succeeded together:
one fulfilment, one email, one stock decrement (real threads and commits)."""

import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.catalog.models import Product, StockMovement, Variant
from app.db import unit_of_work
from app.extensions import db
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus
from app.payments.models import SandboxSession, WebhookEvent
from tests.catalog import factories
from tests.checkout.helpers import paid_sandbox_session
from tests.concurrency import run_at_once
from tests.fakes.stripe_server import make_event, signed_event
from tests.orders.helpers import order_for

SECRET = "whsec_sandbox_development_only"
DELIVERIES = 20


def test_concurrent_duplicate_deliveries_fulfil_once(app):
    with app.app_context(), unit_of_work():
        product = factories.product("Concurrent Mug", stock=5)
        variant = product.variants[0]
        order = order_for([(variant, 2)], email="race@example.com")
        session_id = paid_sandbox_session(order, "race")
        ids = (product.id, variant.id, order.id, order.number)
    product_id, variant_id, order_id, number = ids
    events = [make_event("checkout.session.completed", {"id": session_id}) for _ in range(2)]
    events[0]["id"], events[1]["id"] = f"evt_same_{number}", f"evt_async_{number}"
    events[1]["type"] = "checkout.session.async_payment_succeeded"
    deliveries = [signed_event(events[0], SECRET)] * (DELIVERIES - 1) + [
        signed_event(events[1], SECRET)
    ]

    def deliver(index: int) -> int:
        payload, header = deliveries[index]
        return (
            app.test_client()
            .post(
                "/webhooks/stripe",
                data=payload,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            .status_code
        )

    try:
        statuses = run_at_once(app, DELIVERIES, deliver)
        with app.app_context():
            stock = db.session.execute(
                sa.select(Variant.stock_on_hand, Variant.reserved).where(Variant.id == variant_id)
            ).one()
            sales = db.session.execute(
                sa.select(sa.func.count()).where(
                    StockMovement.variant_id == variant_id, StockMovement.reason == "sale"
                )
            ).scalar()
            mails = db.session.execute(
                sa.select(sa.func.count()).where(
                    Notification.template == "order-confirmation",
                    Notification.to_address == "race@example.com",
                )
            ).scalar()
            status = db.session.execute(
                sa.select(Order.status).where(Order.id == order_id)
            ).scalar_one()
            stored = db.session.execute(
                sa.select(sa.func.count()).where(WebhookEvent.event_id.like(f"%{number}"))
            ).scalar()
        assert statuses == [200] * DELIVERIES
        assert status == OrderStatus.PAID
        assert tuple(stock) == (3, 0)
        assert (sales, mails, stored) == (1, 1, 2)
    finally:
        with app.app_context(), unit_of_work():
            db.session.execute(
                sa.delete(WebhookEvent).where(WebhookEvent.event_id.like(f"%{number}"))
            )
            db.session.execute(
                sa.delete(Notification).where(Notification.to_address == "race@example.com")
            )
            db.session.execute(sa.delete(SandboxSession).where(SandboxSession.id == session_id))
            db.session.execute(sa.delete(AuditEvent).where(AuditEvent.target == number))
            db.session.execute(sa.delete(Order).where(Order.id == order_id))
            db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            db.session.execute(sa.delete(Product).where(Product.id == product_id))

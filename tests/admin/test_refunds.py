"""Refunds: by line (amount computed on the server, tax included) or by amount, with optional
restock; only staff with refunds.issue; settled by the provider's answer or its webhook; never
more than was paid, even when refunds race (real threads and commits)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
import stripe

from app.accounts.models import AuditEvent
from app.catalog.models import Product, StockMovement, Variant
from app.db import commit_unit_of_work, unit_of_work
from app.extensions import db
from app.notifications.models import Notification
from app.orders.models import Order, OrderLine, OrderStatus, Refund
from app.orders.refunds import RefundError, issue_refund, line_refund_amount
from app.payments import stripe_gateway
from app.payments.models import Payment, SandboxSession
from app.payments.types import PaymentRejected, PaymentsUnavailable
from app.payments.types import Refund as ProviderRefund
from app.payments.webhooks import process, store_event
from tests.admin.helpers import csrf, sign_in_staff
from tests.admin.test_orders import mails, paid_order, reload
from tests.concurrency import run_at_once
from tests.fakes.stripe_server import FakeStripe, make_event


def refund_post(client, order: Order, data: dict, *, confirmed: bool = True):
    """Staff post the refund form; ``confirmed`` also answers the confirmation page."""
    page = f"/admin/orders/{order.id}"
    data = {**data, "csrf_token": csrf(client, page)}
    if confirmed:
        data["confirmed"] = "1"
    return client.post(f"{page}/refunds", data=data)


def stock_of(variant_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Variant, variant_id).stock_on_hand


# -- through the staff page --------------------------------------------------------------------


def test_refunding_one_line_restocks_it_and_records_the_refund(client, db):
    order = paid_order((("Merino Jumper", 8900, 2), ("Stoneware Mug", 1500, 2)), stock=10)
    jumper, mug = order.lines
    commit_unit_of_work()
    admin = sign_in_staff(client, "admin")
    page = f"/admin/orders/{order.id}"
    html = client.get(page).get_data(as_text=True)
    assert f'<label for="refund-line-{mug.id}">Stoneware Mug</label>' in html
    assert "Put items back in stock" in html and ">Refund</button>" in html
    assert stock_of(mug.variant_id) == 8

    response = refund_post(
        client, order, {f"line-{mug.id}": "1", "restock": "y", "reason": "chipped"}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    order = reload(order)
    [refund] = order.refunds
    assert (refund.kind, refund.amount, refund.status) == ("lines", 1500, "succeeded")
    assert refund.restock and refund.reason == "chipped" and refund.created_by == admin.id
    assert refund.idempotency_key == f"refund-{refund.id}-{order.number}"
    assert refund.provider_refund_id.startswith("re_sandbox_")
    assert [(rl.order_line_id, rl.quantity, rl.restocked) for rl in refund.lines] == [
        (mug.id, 1, 1)
    ]
    assert stock_of(mug.variant_id) == 9 and stock_of(jumper.variant_id) == 8
    movement = (
        db.session.execute(
            sa.select(StockMovement)
            .where(StockMovement.variant_id == mug.variant_id)
            .order_by(StockMovement.id.desc())
        )
        .scalars()
        .first()
    )
    assert (movement.on_hand_delta, movement.reason, movement.actor_id) == (1, "return", admin.id)
    payment = order.payments[0]
    assert (payment.amount_refunded, payment.amount_refund_pending) == (1500, 0)
    assert payment.status == "partially_refunded"
    assert order.status == OrderStatus.PAID  # a partial refund leaves the status
    line = db.session.get(OrderLine, mug.id)
    assert (line.quantity_refunded, line.quantity_restocked) == (1, 1)
    [mail] = mails("refund-issued")
    assert mail.variables["amount"] == 1500 and mail.variables["order_number"] == order.number
    [event] = (
        db.session.execute(
            sa.select(AuditEvent).where(
                AuditEvent.action == "orders.refund", AuditEvent.target == order.number
            )
        )
        .scalars()
        .all()
    )
    assert event.actor_id == admin.id and event.target == order.number
    html = client.get(page).get_data(as_text=True)
    assert "1 × Stoneware Mug" in html and "Refund requested" in html


def test_staff_without_refunds_issue_cannot_refund(client, db):
    order = paid_order()
    line = order.lines[0]
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Put items back in stock" not in html and ">Refund</button>" not in html
    response = refund_post(client, order, {f"line-{line.id}": "1", "restock": "y"})
    assert response.status_code == 403
    order = reload(order)
    assert order.refunds == [] and order.payments[0].amount_refunded == 0
    assert stock_of(line.variant_id) == 8


def test_an_amount_refund_in_currency_units(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    assert refund_post(client, order, {"amount": "10,50"}).status_code == 303
    order = reload(order)
    assert [(r.kind, r.amount, r.restock) for r in order.refunds] == [("amount", 1050, False)]
    assert order.lines[0].quantity_refunded == 0


def test_refunding_everything_marks_the_order_refunded(client, db):
    order = paid_order((("Merino Jumper", 2500, 2),))
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    line = order.lines[0]
    assert refund_post(client, order, {f"line-{line.id}": "2"}).status_code == 303
    order = reload(order)
    assert order.status == OrderStatus.REFUNDED
    assert order.payments[0].status == "refunded"
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert ">Refund</button>" not in html  # nothing left


@pytest.mark.parametrize(
    ("data", "message", "status"),
    [
        ({}, "Choose the items to refund or enter an amount.", 422),
        ({"amount": "50.01"}, "Only €50.00 can still be refunded on this order.", 422),
        ({"amount": "abc"}, "Enter an amount like 12.50.", 422),
        ({"amount": "-3"}, "Enter an amount like 12.50.", 422),
        ({"amount": "0.001"}, "Enter an amount like 12.50.", 422),
        ({"amount": "NaN"}, "Enter an amount like 12.50.", 422),
        ({"LINE": "3"}, "At most 2 can be refunded.", 422),
        ({"LINE": "-1"}, "Enter a whole number of items.", 422),
        ({"LINE": "1.5"}, "Enter a whole number of items.", 422),
        ({"LINE": "99999999999999999999"}, "Enter a whole number of items.", 422),
        ({"LINE": "1", "amount": "5"}, "Refund either items or an amount, not both.", 422),
    ],
)
def test_bad_refunds_are_explained_and_change_nothing(client, db, data, message, status):
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    if "LINE" in data:
        data = {**data, f"line-{line.id}": data.pop("LINE")}
    response = refund_post(client, order, {**data, "reason": "kept text"})
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and 'value="kept text"' in html
    order = reload(order)
    assert order.refunds == [] and order.lines[0].quantity_refunded == 0
    assert (order.payments[0].amount_refunded, order.payments[0].amount_refund_pending) == (0, 0)


def test_client_cannot_choose_the_amount_of_a_line_refund(client, db):
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    other = paid_order((("Other Thing", 100, 1),), email="eve@example.com")
    commit_unit_of_work()
    # A line of another order, and an amount field hidden among line fields: ignored/refused.
    response = refund_post(
        client, order, {f"line-{other.lines[0].id}": "1", f"line-{line.id}": "1", "total": "1"}
    )
    assert response.status_code == 303
    [refund] = reload(order).refunds
    assert refund.amount == 2500 and [rl.order_line_id for rl in refund.lines] == [line.id]
    assert reload(other).refunds == []


# -- the service -------------------------------------------------------------------------------


def test_line_amounts_add_up_to_the_line_whatever_the_steps():
    class Line:
        quantity, gross = 3, 1000

    steps = [line_refund_amount(Line, done, 1) for done in range(3)]
    assert steps == [333, 333, 334] and sum(steps) == 1000
    assert line_refund_amount(Line, 0, 2) + line_refund_amount(Line, 2, 1) == 1000


def test_tax_exclusive_lines_refund_their_tax_too(db):
    from app.store.models import TaxRate

    rate = db.session.execute(sa.select(TaxRate).where(TaxRate.country == "IE")).scalar_one()
    rate.inclusive = False
    db.session.flush()
    order = paid_order((("Desk Lamp", 10000, 1),))
    line = order.lines[0]
    assert not order.tax_inclusive and line.tax == 2300 and order.total == 12300
    refund = issue_refund(order, lines={line.id: 1}, actor_id=None)
    assert refund.amount == 12300


def test_restock_never_exceeds_what_was_sold(db):
    order = paid_order((("Merino Jumper", 2500, 2),), stock=10)
    line = order.lines[0]
    issue_refund(order, lines={line.id: 1}, restock=True)
    issue_refund(order, lines={line.id: 1}, restock=False)
    assert stock_of(line.variant_id) == 9
    with pytest.raises(RefundError, match="already been refunded in full"):
        issue_refund(order, lines={line.id: 1}, restock=True)
    from app.orders.fulfilment import cancel_order

    order = reload(order)
    cancel_order(order, actor_id=None, reason="test")  # the one unit not yet back goes back
    assert stock_of(line.variant_id) == 10
    assert db.session.get(OrderLine, line.id).quantity_restocked == 2


def test_a_rejected_refund_fails_and_gives_back_what_it_held(db, monkeypatch):
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]

    def reject(**kwargs):
        raise PaymentRejected(detail="charge_disputed")

    monkeypatch.setattr("app.payments.sandbox.create_refund", reject)
    refund = issue_refund(order, lines={line.id: 1})
    commit_unit_of_work()  # the provider is asked after the commit
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund.status == "failed" and "charge_disputed" in refund.failure_reason
    payment = refund.payment
    assert (payment.amount_refunded, payment.amount_refund_pending) == (0, 0)
    assert db.session.get(OrderLine, line.id).quantity_refunded == 0
    assert mails("refund-issued") == []
    monkeypatch.undo()
    again = issue_refund(reload(order), lines={line.id: 2})  # nothing stays held
    commit_unit_of_work()
    assert db.session.get(Refund, again.id).status == "succeeded"


def test_an_outage_leaves_the_refund_pending_and_send_again_uses_the_same_key(
    client, db, monkeypatch
):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    keys = []

    def down(**kwargs):
        keys.append(kwargs["idempotency_key"])
        raise PaymentsUnavailable(outage=True)

    monkeypatch.setattr("app.payments.sandbox.create_refund", down)
    assert refund_post(client, order, {"amount": "5"}).status_code == 303
    [refund] = reload(order).refunds
    assert refund.status == "pending" and "unavailable" in refund.failure_reason
    assert reload(order).payments[0].amount_refund_pending == 500
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Send again" in html
    monkeypatch.undo()
    sent = []
    from app.payments import sandbox

    original = sandbox.create_refund

    def record(**kwargs):
        sent.append(kwargs["idempotency_key"])
        return original(**kwargs)

    monkeypatch.setattr("app.payments.sandbox.create_refund", record)
    page = f"/admin/orders/{order.id}"
    response = client.post(
        f"{page}/refunds/{refund.id}/retry", data={"csrf_token": csrf(client, page)}
    )
    assert response.status_code == 303
    assert keys == sent == [refund.idempotency_key]
    retried = db.session.execute(
        sa.select(AuditEvent.target, AuditEvent.detail).where(
            AuditEvent.action == "orders.refund_retry"
        )
    ).one()
    assert tuple(retried) == (order.number, f"refund {refund.id}")
    refund = reload(order).refunds[0]
    assert refund.status == "succeeded" and refund.failure_reason == ""
    response = client.post(
        f"{page}/refunds/{refund.id}/retry", data={"csrf_token": csrf(client, page)}
    )
    assert response.status_code == 409
    assert (
        client.post(
            f"{page}/refunds/99999999999/retry", data={"csrf_token": csrf(client, page)}
        ).status_code
        == 404
    )


def test_the_sweeper_sends_a_refund_an_outage_left_pending(client, db, monkeypatch):
    from datetime import timedelta

    from app.db import utcnow
    from app.orders.tasks import sweep_refunds

    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    calls = []

    def down(**kwargs):
        calls.append(kwargs["idempotency_key"])
        raise PaymentsUnavailable(outage=True)

    monkeypatch.setattr("app.payments.sandbox.create_refund", down)
    assert refund_post(client, order, {"amount": "5"}).status_code == 303
    [refund] = reload(order).refunds
    assert refund.status == "pending" and len(calls) == 1
    sweep_refunds.call_local()
    assert len(calls) == 1  # just tried: the sweeper waits before trying again

    db.session.execute(sa.update(Refund).values(updated_at=utcnow() - timedelta(minutes=3)))
    commit_unit_of_work()
    monkeypatch.undo()
    sweep_refunds.call_local()
    refund = reload(order).refunds[0]
    assert refund.status == "succeeded" and refund.provider_refund_id
    assert reload(order).payments[0].amount_refunded == 500
    sweep_refunds.call_local()  # settled: never sent again
    assert reload(order).payments[0].amount_refunded == 500


# -- the webhook confirms ----------------------------------------------------------------------


def _pending_answers(monkeypatch):
    """The provider accepts refunds but settles them later (as Stripe may)."""
    made = {}

    def pending(*, payment_intent, amount, idempotency_key, metadata):
        made.setdefault(idempotency_key, f"re_pending_{len(made) + 1}")
        return ProviderRefund(
            id=made[idempotency_key],
            status="pending",
            amount=amount,
            currency="eur",
            payment_intent=payment_intent,
        )

    monkeypatch.setattr("app.payments.sandbox.create_refund", pending)


def deliver(event_type: str, obj: dict, event_id: str) -> str:
    row = store_event({**make_event(event_type, obj), "id": event_id})
    return process(row.id)


def test_refund_updated_webhook_confirms_a_pending_refund(db, monkeypatch):
    _pending_answers(monkeypatch)
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]
    refund = issue_refund(order, lines={line.id: 1})
    commit_unit_of_work()
    refund = db.session.get(Refund, refund.id)
    assert (refund.status, refund.provider_refund_id) == ("pending", "re_pending_1")
    assert mails("refund-issued") == []
    payment = refund.payment
    obj = {
        "id": "re_pending_1",
        "object": "refund",
        "amount": 2500,
        "status": "succeeded",
        "payment_intent": payment.payment_intent,
        "metadata": {"refund_id": str(refund.id)},
    }
    assert deliver("refund.updated", obj, "evt_r1") == "processed"
    assert deliver("refund.updated", obj, "evt_r1_again") == "processed"
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund.status == "succeeded" and refund.settled_at is not None
    assert (refund.payment.amount_refunded, refund.payment.amount_refund_pending) == (2500, 0)
    assert len(mails("refund-issued")) == 1
    # Stripe's charge.refunded with the same running total changes nothing more.
    charge = {"object": "charge", "payment_intent": payment.payment_intent, "amount_refunded": 2500}
    assert deliver("charge.refunded", charge, "evt_c1") == "processed"
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).amount_refunded == 2500
    assert len(mails("refund-issued")) == 1


def test_charge_refunded_confirms_pending_refunds_it_covers(db, monkeypatch):
    _pending_answers(monkeypatch)
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]
    first = issue_refund(order, lines={line.id: 1})
    second = issue_refund(reload(order), amount=1000)
    commit_unit_of_work()
    intent = db.session.get(Refund, first.id).payment.payment_intent
    charge = {"object": "charge", "payment_intent": intent, "amount_refunded": 2500}
    assert deliver("charge.refunded", charge, "evt_c_first") == "processed"
    db.session.expire_all()
    assert db.session.get(Refund, first.id).status == "succeeded"
    assert db.session.get(Refund, second.id).status == "pending"
    charge["amount_refunded"] = 3500
    assert deliver("charge.refunded", charge, "evt_c_second") == "processed"
    older = {**charge, "amount_refunded": 2500}
    assert deliver("charge.refunded", older, "evt_c_late") == "processed"  # out of order
    db.session.expire_all()
    refund = db.session.get(Refund, second.id)
    assert refund.status == "succeeded"
    assert (refund.payment.amount_refunded, refund.payment.amount_refund_pending) == (3500, 0)
    assert reload(order).status == OrderStatus.PAID


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_and_audited(db, monkeypatch):
    _pending_answers(monkeypatch)
    order = paid_order((("Merino Jumper", 2500, 2),))
    commit_unit_of_work()
    intent = reload(order).payments[0].payment_intent
    charge = {"object": "charge", "payment_intent": intent, "amount_refunded": 1200}
    assert deliver("charge.refunded", charge, "evt_dashboard") == "processed"
    order = reload(order)
    assert order.payments[0].amount_refunded == 1200
    [audit] = db.session.execute(
        sa.select(AuditEvent).where(
            AuditEvent.action == "orders.refund", AuditEvent.target == order.number
        )
    ).scalars()
    assert "€12.00 refunded at the payment provider (provider)" in audit.detail
    assert audit.actor_id is None


def test_refund_failed_webhook_releases_the_refund(db, monkeypatch):
    _pending_answers(monkeypatch)
    order = paid_order((("Merino Jumper", 2500, 2),))
    line = order.lines[0]
    refund = issue_refund(order, lines={line.id: 2})
    commit_unit_of_work()
    payment = db.session.get(Refund, refund.id).payment
    obj = {
        "id": "re_pending_1",
        "object": "refund",
        "amount": 5000,
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
        "payment_intent": payment.payment_intent,
    }
    assert deliver("refund.failed", obj, "evt_f1") == "processed"
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund.status == "failed" and refund.failure_reason == "expired_or_canceled_card"
    assert (refund.payment.amount_refunded, refund.payment.amount_refund_pending) == (0, 0)
    assert db.session.get(OrderLine, line.id).quantity_refunded == 0
    assert reload(order).status == OrderStatus.PAID
    # A late "succeeded" for a refund already failed cannot resurrect it.
    assert deliver("refund.updated", {**obj, "status": "succeeded"}, "evt_f2") == "processed"
    assert db.session.get(Refund, refund.id).status == "failed"


def test_metadata_of_another_payment_is_not_trusted(db, monkeypatch):
    _pending_answers(monkeypatch)
    order = paid_order()
    refund = issue_refund(order, amount=500)
    commit_unit_of_work()
    forged = {
        "id": "re_other",
        "status": "succeeded",
        "amount": 500,
        "payment_intent": "pi_someone_else",
        "metadata": {"refund_id": str(refund.id)},
    }
    assert deliver("refund.updated", forged, "evt_forged") == "processed"
    assert db.session.get(Refund, refund.id).status == "pending"


# -- Stripe, through the real SDK against the fake ---------------------------------------------


@pytest.fixture
def fake():
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_app(app, fake, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.url)
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
    stripe_gateway.reset(app)
    yield app
    stripe_gateway.reset(app)


def test_stripe_refunds_carry_the_idempotency_key_and_are_never_doubled(
    stripe_app, fake, client, db, monkeypatch
):
    order = paid_order((("Merino Jumper", 2500, 2), ("Stoneware Mug", 1500, 1)))
    monkeypatch.setitem(stripe_app.config, "PAYMENT_PROVIDER", "stripe")
    session = stripe_gateway.create_checkout_session(
        line_items=[{"name": "Order", "unit_amount": order.total, "quantity": 1}],
        currency="EUR",
        customer_email=None,
        client_reference_id=order.number,
        metadata={},
        success_url="https://shop.test/return?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://shop.test/cart",
        expires_at=int(time.time()) + 3600,
        idempotency_key=f"test-{order.number}",
    )
    completed = fake.complete(session.id)
    order.payments[0].payment_intent = completed["payment_intent"]
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    mug = order.lines[1]
    assert refund_post(client, order, {f"line-{mug.id}": "1"}).status_code == 303
    [sent] = fake.requests_to("POST", "/v1/refunds")
    [refund] = reload(order).refunds
    assert sent.idempotency_key == refund.idempotency_key == f"refund-{refund.id}-{order.number}"
    assert sent.params["amount"] == "1500"
    assert sent.params["payment_intent"] == completed["payment_intent"]
    assert sent.params["metadata"] == {"order_number": order.number, "refund_id": str(refund.id)}
    assert refund.status == "succeeded" and refund.provider_refund_id.startswith("re_test")
    # Stripe's events for it arrive afterwards: nothing is counted twice.
    provider_refund = fake.refunds[refund.provider_refund_id]
    assert deliver("refund.updated", provider_refund, "evt_s1") == "processed"
    charge = {"payment_intent": completed["payment_intent"], "amount_refunded": 1500}
    assert deliver("charge.refunded", charge, "evt_s2") == "processed"
    db.session.expire_all()
    payment = db.session.get(Payment, order.payments[0].id)
    assert (payment.amount_refunded, payment.amount_refund_pending) == (1500, 0)
    assert len(mails("refund-issued")) == 1
    # An over-refund Stripe would refuse is refused before it is asked.
    response = refund_post(client, order, {"amount": "65.01"})
    assert response.status_code == 422
    assert len(fake.requests_to("POST", "/v1/refunds")) == 1


# -- concurrency -------------------------------------------------------------------------------

WORKERS = 8


def _cleanup(order_id: int, product_ids: list[int]) -> None:
    """These tests commit for real: remove everything they made, emails included."""
    with unit_of_work():
        order = db.session.get(Order, order_id)
        db.session.execute(sa.delete(Notification).where(Notification.to_address == order.email))
        db.session.execute(
            sa.delete(SandboxSession).where(SandboxSession.client_reference_id == order.number)
        )
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.target == order.number))
        db.session.execute(sa.delete(Order).where(Order.id == order_id))
        variant_ids = sa.select(Variant.id).where(Variant.product_id.in_(product_ids))
        db.session.execute(
            sa.delete(StockMovement).where(StockMovement.variant_id.in_(variant_ids))
        )
        db.session.execute(sa.delete(Product).where(Product.id.in_(product_ids)))


def test_concurrent_amount_refunds_never_exceed_what_was_paid(app):
    with app.app_context(), unit_of_work():
        order = paid_order((("Race Jumper", 2500, 2),), email="race-amount@example.com")
        order_id = order.id
        product_ids = [db.session.get(Variant, order.lines[0].variant_id).product_id]
        paid = order.total  # 50.00; each worker asks for 15.00: three fit, never four
    try:

        def refund(index: int) -> str:
            try:
                with unit_of_work():
                    issue_refund(db.session.get(Order, order_id), amount=1500, actor_id=None)
            except RefundError:
                return "refused"
            return "refunded"

        outcomes = run_at_once(app, WORKERS, refund)
        with app.app_context():
            refunds = (
                db.session.execute(sa.select(Refund).where(Refund.order_id == order_id))
                .scalars()
                .all()
            )
            payment = db.session.execute(
                sa.select(Payment).where(Payment.order_id == order_id)
            ).scalar_one()
            assert [o for o in outcomes if o not in ("refunded", "refused")] == []
            assert outcomes.count("refunded") == paid // 1500 == 3
            assert sum(r.amount for r in refunds) == 4500 <= paid
            assert {r.status for r in refunds} == {"succeeded"}
            assert (payment.amount_refunded, payment.amount_refund_pending) == (4500, 0)
    finally:
        with app.app_context():
            _cleanup(order_id, product_ids)


def test_concurrent_line_refunds_refund_and_restock_each_unit_once(app):
    with app.app_context(), unit_of_work():
        order = paid_order((("Race Mug", 2000, 3),), stock=10, email="race-lines@example.com")
        order_id, line_id = order.id, order.lines[0].id
        variant_id = order.lines[0].variant_id
        product_ids = [db.session.get(Variant, variant_id).product_id]
    try:

        def refund(index: int) -> str:
            try:
                with unit_of_work():
                    issue_refund(db.session.get(Order, order_id), lines={line_id: 1}, restock=True)
            except RefundError:
                return "refused"
            return "refunded"

        outcomes = run_at_once(app, WORKERS, refund)
        with app.app_context():
            line = db.session.get(OrderLine, line_id)
            variant = db.session.get(Variant, variant_id)
            order = db.session.get(Order, order_id)
            total = sum(r.amount for r in order.refunds)
            assert [o for o in outcomes if o not in ("refunded", "refused")] == []
            assert outcomes.count("refunded") == 3
            assert (line.quantity_refunded, line.quantity_restocked) == (3, 3)
            assert variant.stock_on_hand == 10  # 7 after the sale, 3 back
            assert total == 6000 == order.payments[0].amount_refunded
            assert order.status == OrderStatus.REFUNDED
    finally:
        with app.app_context():
            _cleanup(order_id, product_ids)


def test_a_customer_cancelling_after_a_staff_refund_gets_only_the_rest(db):
    from app.orders.customer import cancel_by_customer

    order = paid_order((("Merino Jumper", 2500, 2), ("Stoneware Mug", 1500, 2)), stock=10)
    jumper, mug = order.lines
    issue_refund(order, lines={mug.id: 1}, restock=True)
    commit_unit_of_work()
    order = reload(order)
    assert cancel_by_customer(order, actor_id=None) == 6500
    commit_unit_of_work()
    assert stock_of(mug.variant_id) == 10 and stock_of(jumper.variant_id) == 10  # not 11
    order = reload(order)
    assert sorted(r.amount for r in order.refunds) == [1500, 6500]
    assert order.payments[0].amount_refunded == order.total == 8000
    assert order.status == OrderStatus.REFUNDED


def test_restock_with_an_amount_only_refund_is_explained_not_ignored(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    response = refund_post(client, order, {"amount": "5", "restock": "y"})
    assert response.status_code == 422
    assert "Putting items back in stock needs items" in response.get_data(as_text=True)
    assert reload(order).refunds == []


def test_a_refund_is_confirmed_with_its_amount_and_lines_before_anything_is_sent(client, db):
    order = paid_order((("Merino Jumper", 2500, 2), ("Wool Hat", 1200, 1)))
    sign_in_staff(client, "admin")
    jumper = order.lines[0]
    asked = refund_post(
        client,
        order,
        {f"line-{jumper.id}": "1", "restock": "y", "reason": "Too small"},
        confirmed=False,
    )
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Refund €25.00 to ada@example.com?" in html
    assert "The items go back in stock." in html and "Reason: Too small" in html
    assert 'name="confirmed" value="1"' in html and f'name="line-{jumper.id}" value="1"' in html
    assert reload(order).refunds == []  # nothing claimed, nothing sent
    done = refund_post(client, order, {f"line-{jumper.id}": "1", "restock": "y"})
    assert done.status_code == 303
    assert [r.amount for r in reload(order).refunds] == [2500]


def test_an_impossible_refund_is_refused_before_the_confirmation(client, db):
    order = paid_order()
    sign_in_staff(client, "admin")
    too_much = refund_post(client, order, {"amount": "999"}, confirmed=False)
    assert too_much.status_code == 422
    assert "can still be refunded on this order" in too_much.get_data(as_text=True)

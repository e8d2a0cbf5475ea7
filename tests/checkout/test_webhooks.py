"""POST /webhooks/stripe: signed only, stored once, processed idempotently in any order."""

import json
import time

import pytest
import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.orders.models import OrderStatus
from app.payments.models import WebhookEvent
from app.payments.webhooks import process
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.fakes.stripe_server import make_event, signed_event

SECRET = "whsec_sandbox_development_only"


def post(client, payload: bytes, header: str):
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


@pytest.fixture
def pending_session(client, db):
    """A guest order waiting for payment, with its sandbox session id."""
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 2)
    submit_details(client)
    url = pay(client).headers["Location"]
    session_id = url.rsplit("/", 1)[1]
    from app.extensions import db as _db
    from app.payments.models import SandboxSession

    row = _db.session.get(SandboxSession, session_id)
    row.status, row.payment_status, row.payment_intent = "complete", "paid", "pi_test_1"
    commit_unit_of_work()
    return session_id


def completed(session_id: str, event_id: str = "evt_1", type_="checkout.session.completed"):
    event = make_event(type_, {"id": session_id, "object": "checkout.session"})
    event["id"] = event_id
    return signed_event(event, SECRET)


def test_a_signed_event_is_stored_and_fulfils_the_order(client, db, pending_session):
    payload, header = completed(pending_session)
    response = post(client, payload, header)
    assert response.status_code == 200 and response.get_json() == {
        "received": True,
        "duplicate": False,
    }
    assert latest_order().status == OrderStatus.PAID


@pytest.mark.parametrize(
    "tamper", ["missing", "bad-signature", "body-changed", "wrong-secret", "stale"]
)
def test_forged_or_stale_webhooks_are_rejected_and_change_nothing(
    client, db, pending_session, tamper, caplog
):
    payload, header = completed(pending_session)
    if tamper == "missing":
        header = ""
    elif tamper == "bad-signature":
        header = header.split(",v1=")[0] + ",v1=" + "0" * 64
    elif tamper == "body-changed":
        payload = payload.replace(b'"evt_1"', b'"evt_2"')
    elif tamper == "wrong-secret":
        payload, header = signed_event(json.loads(payload), "whsec_someone_else")
    else:
        payload, header = signed_event(
            json.loads(payload), SECRET, timestamp=int(time.time()) - 301
        )
    response = post(client, payload, header)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert latest_order().status == OrderStatus.PENDING_PAYMENT
    assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 0
    assert "rejected webhook" in caplog.text


def test_duplicates_are_acknowledged_and_ignored(client, db, pending_session):
    payload, header = completed(pending_session)
    answers = [post(client, payload, header).get_json()["duplicate"] for _ in range(20)]
    assert answers == [False] + [True] * 19
    assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 1


def test_completed_and_async_succeeded_fulfil_once(client, db, pending_session):
    from app.catalog.models import Variant
    from app.notifications.models import Notification

    for event_id, type_ in [
        ("evt_a", "checkout.session.completed"),
        ("evt_b", "checkout.session.async_payment_succeeded"),
    ]:
        assert post(client, *completed(pending_session, event_id, type_)).status_code == 200
    db.session.expire_all()
    variant = db.session.execute(sa.select(Variant)).scalar_one()
    assert (variant.stock_on_hand, variant.reserved) == (3, 0)
    mails = (
        db.session.execute(
            sa.select(Notification).where(Notification.template == "order-confirmation")
        )
        .scalars()
        .all()
    )
    assert len(mails) == 1


def test_unknown_event_types_are_acknowledged_and_ignored(client, db):
    payload, header = signed_event(make_event("customer.created", {"id": "cus_1"}), SECRET)
    assert post(client, payload, header).status_code == 200
    row = db.session.execute(sa.select(WebhookEvent)).scalar_one()
    assert row.status == "ignored"


def test_expired_after_paid_never_unpays(client, db, pending_session):
    post(client, *completed(pending_session, "evt_paid"))
    post(client, *completed(pending_session, "evt_exp", "checkout.session.expired"))
    assert latest_order().status == OrderStatus.PAID


def _provider_says(session_id, status, payment_status):
    from app.extensions import db as _db
    from app.payments.models import SandboxSession

    row = _db.session.get(SandboxSession, session_id)
    row.status, row.payment_status = status, payment_status
    commit_unit_of_work()


def test_expired_session_cancels_and_releases(client, db, pending_session):
    from app.catalog.models import Variant

    _provider_says(pending_session, "expired", "unpaid")
    post(client, *completed(pending_session, "evt_exp", "checkout.session.expired"))
    order = latest_order()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "expired")
    db.session.expire_all()
    assert db.session.execute(sa.select(Variant.reserved)).scalar_one() == 0


def test_an_expired_event_for_a_session_the_provider_reports_paid_pays_the_order(
    client, db, pending_session
):
    """The handler trusts the session it retrieves, not the event: the shopper paid."""
    post(client, *completed(pending_session, "evt_exp", "checkout.session.expired"))
    assert latest_order().status == OrderStatus.PAID


def test_an_expired_event_for_a_session_still_open_changes_nothing(client, db, pending_session):
    _provider_says(pending_session, "open", "unpaid")
    post(client, *completed(pending_session, "evt_exp", "checkout.session.expired"))
    order = latest_order()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.payments[0].status == "pending"


def test_failing_processing_is_kept_retried_and_dead_lettered(
    client, db, pending_session, monkeypatch, app
):
    from app.payments import webhooks

    def boom(event, prepared=None):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(webhooks.HANDLERS, "checkout.session.completed", boom)
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 3)
    assert post(client, *completed(pending_session)).status_code == 200  # answered anyway
    row = db.session.execute(sa.select(WebhookEvent)).scalar_one()
    assert (row.status, row.attempts) == ("failed", 1)
    for _ in range(2):
        process(row.id)
        commit_unit_of_work()
    db.session.refresh(row)
    assert row.status == "dead" and "database hiccup" in row.last_error
    monkeypatch.undo()
    from app.payments.webhooks import replay

    assert replay(row.id) is True
    assert process(row.id) == "processed"
    commit_unit_of_work()
    assert latest_order().status == OrderStatus.PAID


def test_amount_mismatch_is_flagged_and_never_fulfilled(
    client, db, pending_session, app, monkeypatch
):
    from app.extensions import db as _db
    from app.payments.models import SandboxSession

    row = _db.session.get(SandboxSession, pending_session)
    row.amount_total = 1  # the provider says something else was paid
    commit_unit_of_work()
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    post(client, *completed(pending_session))
    post(
        client, *completed(pending_session, "evt_again", "checkout.session.async_payment_succeeded")
    )
    order = latest_order()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.needs_attention == "Paid €0.01, but the order total is €34.95."
    from app.accounts.models import AuditEvent
    from app.notifications.models import Notification

    [audit] = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "payment.amount_mismatch")
    ).scalars()
    assert audit.target == order.number
    [alert] = db.session.execute(  # once, however many events repeat it
        sa.select(Notification).where(Notification.template == "payment-anomaly")
    ).scalars()
    assert alert.to_address == "ops@example.com"
    assert alert.variables["order_number"] == order.number
    assert "Stripe dashboard" in alert.variables["action"]


def test_a_signed_but_deeply_nested_payload_is_refused_not_a_500(client, db):
    import stripe

    payload = '{"type": "x", "data": ' + "[" * 50_000 + "]" * 50_000 + "}"
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    response = post(client, payload.encode(), header)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid-webhook"
    assert db.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar() == 0


def test_a_signed_event_whose_text_holds_percent_zero_zero_is_processed(
    client, db, pending_session
):
    """A customer's name or address may contain "%00"; it is text, not a NUL byte."""
    event = make_event(
        "checkout.session.completed",
        {"id": pending_session, "object": "checkout.session", "client_reference_id": "100%00"},
    )
    event["id"] = "evt_percent"
    payload, header = signed_event(event, SECRET)
    assert b"%00" in payload
    response = post(client, payload, header)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert latest_order().status == OrderStatus.PAID

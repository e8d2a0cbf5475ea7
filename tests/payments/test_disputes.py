"""charge.dispute.* events: the order is flagged and staff alerted once, however often and in
whatever order the events arrive; the order page and the orders list say so."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.notifications.models import Notification
from app.payments.models import Dispute, SandboxSession, WebhookEvent
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.fakes.stripe_server import make_event, shaped, signed_event

SECRET = "whsec_sandbox_development_only"
DUE = 1_900_000_000  # 2030-03-17


def post(client, event: dict) -> int:
    payload, header = signed_event(event, SECRET)
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    ).status_code


@pytest.fixture
def paid_order(client, db, app, monkeypatch):
    """A paid guest order whose payment intent is ``pi_dispute_1``; staff alerts go to ops."""
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    variant = factories.product("Walnut Tray", price=4500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    row = _db.session.get(SandboxSession, session_id)
    row.status, row.payment_status, row.payment_intent = "complete", "paid", "pi_dispute_1"
    commit_unit_of_work()
    session = {"id": session_id, "object": "checkout.session"}
    event = make_event("checkout.session.completed", session)
    assert post(client, event) == 200
    order = latest_order()
    assert order.paid_at is not None
    return order


def dispute_event(
    type_: str,
    *,
    status: str = "needs_response",
    created: int | None = None,
    dispute_id: str = "dp_test_1",
    payment_intent: str | None = "pi_dispute_1",
    amount: object = 4500,
    reason: str = "product_not_received",
) -> dict:
    dispute = shaped(
        "dispute",
        {
            "id": dispute_id,
            "object": "dispute",
            "amount": amount,
            "currency": "eur",
            "charge": "ch_test_1",
            "payment_intent": payment_intent,
            "reason": reason,
            "status": status,
            "evidence_details": {
                "due_by": DUE,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "livemode": False,
            "created": 1_800_000_000,
            "metadata": {},
            "is_charge_refundable": False,
        },
    )
    event = make_event(type_, dispute)
    if created is not None:
        event["created"] = created
    return event


def disputes() -> list[Dispute]:
    _db.session.expire_all()
    return list(_db.session.execute(sa.select(Dispute).order_by(Dispute.id)).scalars())


def alerts() -> list[Notification]:
    return list(
        _db.session.execute(
            sa.select(Notification)
            .where(Notification.template == "payment-dispute")
            .order_by(Notification.id)
        ).scalars()
    )


def audits(action: str) -> list[AuditEvent]:
    return list(
        _db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars()
    )


def test_a_dispute_flags_the_order_once_however_often_it_arrives(
    client,
    db,
    paid_order,
):
    created = dispute_event("charge.dispute.created")
    assert post(client, created) == 200
    assert post(client, created) == 200  # the same delivery again: a duplicate
    again = dispute_event("charge.dispute.created", created=created["created"])
    assert post(client, again) == 200  # the same news under another event id
    same = dispute_event("charge.dispute.updated", created=created["created"] + 5)
    assert post(client, same) == 200  # an update that changes nothing staff act on

    [dispute] = disputes()
    assert dispute.order_id == paid_order.id
    assert (dispute.status, dispute.amount, dispute.currency) == ("needs_response", 4500, "EUR")
    assert int(dispute.evidence_due_by.timestamp()) == DUE
    [alert] = alerts()
    assert alert.to_address == "ops@example.com"
    assert alert.variables["order_number"] == paid_order.number
    assert alert.variables["due_by"].startswith("2030-03-1")
    assert "Submit evidence" in alert.variables["action"]
    assert alert.variables["dashboard_url"].endswith("/test/disputes/dp_test_1")
    assert len(audits("payments.dispute_opened")) == 1
    assert not audits("payments.dispute_updated")
    statuses = _db.session.execute(sa.select(WebhookEvent.status)).scalars().all()
    assert sorted(statuses) == ["processed"] * 4  # the payment's, and three dispute events

    sign_in_staff(client, "admin")
    page = client.get(f"/admin/orders/{paid_order.id}").get_data(as_text=True)
    assert "Disputed by the cardholder" in page
    assert "Chargeback: needs a response" in page
    assert "Evidence due by" in page and "2030-03-1" in page
    assert "the goods did not arrive" in page
    assert "https://dashboard.stripe.com/test/disputes/dp_test_1" in page
    listing = client.get("/admin/orders?dispute=open").get_data(as_text=True)
    assert paid_order.number in listing and "Disputed" in listing
    assert paid_order.number not in client.get("/admin/orders?dispute=open&q=nobody").get_data(
        as_text=True
    )


def test_events_in_any_order_end_in_what_the_newest_says(client, db, paid_order):
    now = int(time.time())
    closed = dispute_event("charge.dispute.closed", status="won", created=now + 20)
    review = dispute_event("charge.dispute.updated", status="under_review", created=now + 10)
    opened = dispute_event("charge.dispute.created", created=now)
    for event in (closed, review, opened):  # newest first
        assert post(client, event) == 200

    [dispute] = disputes()
    assert dispute.status == "won" and dispute.closed_at is not None
    # Recorded (already closed) once; the older events change nothing and alert nobody.
    [alert] = alerts()
    assert "already closed" in alert.variables["headline"]
    assert not audits("payments.dispute_updated")
    assert not audits("payments.dispute_closed")
    sign_in_staff(client, "admin")
    assert paid_order.number not in client.get("/admin/orders?dispute=open").get_data(as_text=True)
    assert paid_order.number in client.get("/admin/orders?dispute=any").get_data(as_text=True)
    page = client.get(f"/admin/orders/{paid_order.id}").get_data(as_text=True)
    assert "Dispute closed: Won" in page


def test_a_dispute_moves_on_and_its_outcome_is_told_once(client, db, paid_order):
    now = int(time.time())
    assert post(client, dispute_event("charge.dispute.created", created=now)) == 200
    review = dispute_event("charge.dispute.updated", status="under_review", created=now + 10)
    assert post(client, review) == 200
    lost = dispute_event("charge.dispute.closed", status="lost", created=now + 20)
    assert post(client, lost) == 200
    assert post(client, dispute_event("charge.dispute.closed", status="lost", created=now + 30))
    # A late "updated" after the close cannot open it again.
    late = dispute_event("charge.dispute.updated", status="under_review", created=now + 40)
    assert post(client, late) == 200

    [dispute] = disputes()
    assert dispute.status == "lost"
    opened, outcome = alerts()
    assert "was lost" in outcome.variables["headline"]
    assert outcome.variables["status"] == "Lost"
    [updated] = audits("payments.dispute_updated")
    assert "Chargeback: under review" in updated.detail
    assert len(audits("payments.dispute_closed")) == 1


def test_a_dispute_on_a_payment_the_shop_does_not_know_is_kept_and_staff_told(client, db, app):
    from flask import current_app

    current_app.config["STAFF_ALERT_EMAILS"] = ["ops@example.com"]
    try:
        event = dispute_event("charge.dispute.created", payment_intent="pi_elsewhere")
        assert post(client, event) == 200
    finally:
        current_app.config["STAFF_ALERT_EMAILS"] = []
    [dispute] = disputes()
    assert dispute.order_id is None and dispute.payment_intent == "pi_elsewhere"
    [alert] = alerts()
    assert alert.variables["order_number"] == "(no order of this shop)"
    assert alert.variables["admin_url"].endswith("/admin/orders?dispute=open")


@pytest.mark.parametrize("amount", ["4500", -1, None, True])
def test_a_malformed_dispute_is_not_recorded_and_the_event_is_kept_for_a_retry(
    client, db, paid_order, amount
):
    assert post(client, dispute_event("charge.dispute.created", amount=amount)) == 200
    assert disputes() == []
    assert not alerts()
    row = _db.session.execute(
        sa.select(WebhookEvent).where(WebhookEvent.type == "charge.dispute.created")
    ).scalar_one()
    assert row.status == "failed" and "amount" in row.last_error


def test_two_events_of_one_second_keep_the_one_further_along(client, db, paid_order):
    now = int(time.time())
    assert post(client, dispute_event("charge.dispute.created", created=now)) == 200
    review = dispute_event("charge.dispute.updated", status="under_review", created=now + 5)
    stale = dispute_event("charge.dispute.updated", status="needs_response", created=now + 5)
    assert post(client, review) == 200
    assert post(client, stale) == 200  # the same second, but behind
    [dispute] = disputes()
    assert dispute.status == "under_review"


@pytest.mark.parametrize(
    ("status", "refundable"),
    [("needs_response", False), ("lost", False), ("warning_needs_response", True), ("won", True)],
)
def test_a_disputed_payment_is_not_refunded_while_the_chargeback_stands(
    client, db, paid_order, status, refundable
):
    from tests.admin.test_refunds import refund_post

    assert post(client, dispute_event("charge.dispute.created", status=status)) == 200
    sign_in_staff(client, "admin")
    page = client.get(f"/admin/orders/{paid_order.id}").get_data(as_text=True)
    assert ("cannot be refunded" in page) is not refundable
    assert ('class="refund-form"' in page) is refundable
    line = paid_order.lines[0]
    response = refund_post(client, paid_order, {f"line-{line.id}": "1"})
    _db.session.expire_all()
    refunds = _db.session.get(type(paid_order), paid_order.id).refunds
    assert bool(refunds) is refundable, response.status_code

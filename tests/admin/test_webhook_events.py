"""Staff webhook event screens: the received events and their processing status, the
payload, and replaying a dead or failed event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.accounts.permissions import ROLE_PERMISSIONS
from app.db import commit_unit_of_work, utcnow
from app.extensions import db as _db
from app.orders.models import OrderStatus
from app.payments.models import WebhookEvent
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.fakes.stripe_server import make_event


def stored(type_="checkout.session.completed", obj=None, *, status="dead", event_id=None):
    event = make_event(type_, obj or {"id": "cs_nothing", "object": "checkout.session"})
    row = WebhookEvent(
        event_id=event_id or event["id"],
        type=type_,
        payload=event,
        status=status,
        attempts=8 if status == "dead" else 1,
        last_error="RuntimeError: database hiccup" if status in ("dead", "failed") else "",
        received_at=utcnow(),
    )
    _db.session.add(row)
    _db.session.flush()
    return row


def fresh(row_id: int) -> WebhookEvent:
    _db.session.expire_all()
    return _db.session.get(WebhookEvent, row_id)


@pytest.fixture
def paid_but_unfulfilled(app, db):
    """A guest order the provider reports as paid, whose completed event went dead."""
    shopper = app.test_client()
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(shopper, variant.id, 2)
    submit_details(shopper)
    session_id = pay(shopper).headers["Location"].rsplit("/", 1)[1]
    from app.payments.models import SandboxSession

    session = _db.session.get(SandboxSession, session_id)
    session.status, session.payment_status, session.payment_intent = "complete", "paid", "pi_1"
    row = stored(obj={"id": session_id, "object": "checkout.session"})
    commit_unit_of_work()
    assert latest_order().status == OrderStatus.PENDING_PAYMENT
    return row


def replay(client, row_id: int):
    token = csrf(client, "/admin/webhook-events")
    return client.post(f"/admin/webhook-events/{row_id}/replay", data={"csrf_token": token})


def test_customers_get_404(client, db):
    row = stored()
    make_user("shopper@example.com")
    commit_unit_of_work()
    login(client, "shopper@example.com")
    assert client.get("/admin/webhook-events").status_code == 404
    assert client.get(f"/admin/webhook-events/{row.id}").status_code == 404
    token = csrf(client, "/account/profile")
    response = client.post(f"/admin/webhook-events/{row.id}/replay", data={"csrf_token": token})
    assert response.status_code == 404
    assert fresh(row.id).status == "dead"


def test_staff_without_orders_manage_get_403(client, db, monkeypatch):
    row = stored()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    token = csrf(client, "/admin/")
    monkeypatch.setitem(ROLE_PERMISSIONS, "staff", ROLE_PERMISSIONS["staff"] - {"orders.manage"})
    assert client.get("/admin/webhook-events").status_code == 403
    assert client.get(f"/admin/webhook-events/{row.id}").status_code == 403
    response = client.post(f"/admin/webhook-events/{row.id}/replay", data={"csrf_token": token})
    assert response.status_code == 403
    assert fresh(row.id).status == "dead"


def test_replay_without_csrf_is_refused(client, db):
    row = stored()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    assert client.post(f"/admin/webhook-events/{row.id}/replay").status_code == 400
    assert fresh(row.id).status == "dead"


@pytest.mark.parametrize("path", ["/admin/webhook-events/99999999999", "/admin/webhook-events/0"])
def test_unknown_or_huge_ids_are_404(client, db, path):
    sign_in_staff(client, "staff")
    assert client.get(path).status_code == 404
    token = csrf(client, "/admin/webhook-events")
    assert client.post(path + "/replay", data={"csrf_token": token}).status_code == 404


def test_list_filters_by_status_and_type(client, db):
    stored("checkout.session.completed", status="dead", event_id="evt_dead_completed")
    stored("checkout.session.completed", status="processed", event_id="evt_ok_completed")
    stored("charge.refunded", status="failed", event_id="evt_failed_refund")
    stored("customer.created", status="ignored", event_id="evt_ignored")
    commit_unit_of_work()
    sign_in_staff(client, "staff")

    def shown(query: str) -> set[str]:
        html = client.get(f"/admin/webhook-events?{query}").get_data(as_text=True)
        names = ["evt_dead_completed", "evt_ok_completed", "evt_failed_refund", "evt_ignored"]
        return {name for name in names if name in html}

    assert len(shown("")) == 4
    assert shown("status=dead") == {"evt_dead_completed"}
    assert shown("type=charge.refunded") == {"evt_failed_refund"}
    assert shown("type=checkout.session.completed&status=processed") == {"evt_ok_completed"}
    assert len(shown("status=<script>&type=nope")) == 4  # unknown values are ignored
    html = client.get("/admin/webhook-events?status=dead").get_data(as_text=True)
    assert "Replay" in html and "database hiccup" in html


def test_detail_shows_the_payload_pretty_and_escaped(client, db):
    row = stored(obj={"id": "cs_x", "object": "checkout.session", "note": "<script>x</script>"})
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/webhook-events/{row.id}").get_data(as_text=True)
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "\n  &#34;data&#34;: {\n    &#34;object&#34;: {" in html  # indented JSON
    assert "Replay this event" in html


def test_replaying_a_dead_event_processes_it_and_is_audited(client, db, paid_but_unfulfilled):
    row = paid_but_unfulfilled
    member = sign_in_staff(client, "staff")
    response = replay(client, row.id)
    assert response.status_code == 302
    after = fresh(row.id)
    assert (after.status, after.attempts, after.last_error) == ("processed", 1, "")
    assert latest_order().status == OrderStatus.PAID
    audit = _db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "webhooks.replayed")
    ).scalar_one()
    assert audit.actor_id == member.id and row.event_id in audit.target
    assert "was dead" in audit.detail
    # Processed now: no second replay, and the order is fulfilled once.
    again = replay(client, row.id)
    assert again.status_code == 409 and "Only dead or failed" in again.get_data(as_text=True)


def test_replaying_a_failed_event_processes_it_now(client, db, paid_but_unfulfilled):
    row = paid_but_unfulfilled
    row.status = "failed"
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    assert replay(client, row.id).status_code == 302
    assert fresh(row.id).status == "processed"
    assert latest_order().status == OrderStatus.PAID


def test_a_replay_that_fails_again_is_kept_for_later(client, db, monkeypatch, app):
    from app.payments import webhooks

    def boom(event, prepared=None):
        raise RuntimeError("still broken")

    row = stored()
    commit_unit_of_work()
    monkeypatch.setitem(webhooks.HANDLERS, "checkout.session.completed", boom)
    sign_in_staff(client, "staff")
    assert replay(client, row.id).status_code == 302
    after = fresh(row.id)
    assert (after.status, after.attempts) == ("failed", 1) and "still broken" in after.last_error


@pytest.mark.parametrize("status", ["received", "processing", "processed", "ignored"])
def test_only_dead_or_failed_events_can_be_replayed(client, db, status):
    row = stored(status=status)
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    assert replay(client, row.id).status_code == 409
    assert (fresh(row.id).status, fresh(row.id).attempts) == (status, row.attempts)

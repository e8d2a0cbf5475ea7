"""The staff notifications outbox: filters, a message rendered on view (private links
hidden, HTML in a sandbox), and retrying dead letters one by one or in bulk."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.accounts.permissions import ROLE_PERMISSIONS
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.notifications.models import Notification
from app.notifications.samples import SAMPLES
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff

RESET_TOKEN = "SECRET-RESET-TOKEN-abc123"


def row(template="welcome", *, status="dead", channel="email", to="ada@example.com", **extra):
    variables = dict(SAMPLES[template])
    if template == "password-reset":
        variables["reset_url"] = f"https://shop.example/account/reset/{RESET_TOKEN}"
    notification = Notification(
        to_address=to,
        channel=channel,
        template=template,
        variables=variables,
        category="transactional",
        status=status,
        attempts=6 if status == "dead" else 1,
        last_error="smtp said no" if status == "dead" else "",
        **extra,
    )
    _db.session.add(notification)
    _db.session.flush()
    return notification


def fresh(notification_id: int) -> Notification:
    _db.session.expire_all()
    return _db.session.get(Notification, notification_id)


def post(client, path: str, data=None):
    form = {"csrf_token": csrf(client, "/admin/notifications")}
    return client.post(path, data={**form, **(data or {})})


def test_customers_get_404(client, db):
    dead = row()
    make_user("shopper@example.com")
    commit_unit_of_work()
    login(client, "shopper@example.com")
    assert client.get("/admin/notifications").status_code == 404
    assert client.get(f"/admin/notifications/{dead.id}").status_code == 404
    assert client.get(f"/admin/notifications/{dead.id}/html").status_code == 404
    token = csrf(client, "/account/profile")
    response = client.post(f"/admin/notifications/{dead.id}/retry", data={"csrf_token": token})
    assert response.status_code == 404
    assert fresh(dead.id).status == "dead"


def test_staff_without_the_permission_get_403(client, db, monkeypatch):
    dead = row()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    token = csrf(client, "/admin/")
    monkeypatch.setitem(
        ROLE_PERMISSIONS, "staff", ROLE_PERMISSIONS["staff"] - {"notifications.manage"}
    )
    assert client.get("/admin/notifications").status_code == 403
    assert client.get(f"/admin/notifications/{dead.id}").status_code == 403
    assert client.get(f"/admin/notifications/{dead.id}/html").status_code == 403
    response = client.post(f"/admin/notifications/{dead.id}/retry", data={"csrf_token": token})
    assert response.status_code == 403
    assert fresh(dead.id).status == "dead"


def test_retry_without_csrf_is_refused(client, db):
    dead = row()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    assert client.post(f"/admin/notifications/{dead.id}/retry").status_code == 400
    assert client.post("/admin/notifications/retry", data={"ids": [dead.id]}).status_code == 400
    assert fresh(dead.id).status == "dead"


def test_filters_by_status_channel_and_template(client, db):
    row("welcome", status="dead", to="dead-welcome@example.com")
    row("welcome", status="sent", to="sent-welcome@example.com")
    row("order-shipped", status="dead", to="dead-shipped@example.com")
    row("order-shipped", status="dead", channel="sms", to="+353851234567")
    commit_unit_of_work()
    sign_in_staff(client, "staff")

    def shown(query: str) -> set[str]:
        html = client.get(f"/admin/notifications?{query}").get_data(as_text=True)
        everyone = ["dead-welcome@", "sent-welcome@", "dead-shipped@", "+353851234567"]
        return {who for who in everyone if who in html}

    assert shown("status=dead") == {"dead-welcome@", "dead-shipped@", "+353851234567"}
    assert shown("status=dead&channel=email") == {"dead-welcome@", "dead-shipped@"}
    assert shown("template=welcome") == {"dead-welcome@", "sent-welcome@"}
    assert shown("channel=sms") == {"+353851234567"}
    assert len(shown("status=bogus&template=../../etc")) == 4  # unknown values are ignored


def test_a_message_is_rendered_on_view_with_private_links_hidden(client, db):
    reset = row("password-reset", to="ada@example.com")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = client.get(f"/admin/notifications/{reset.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>Subject:</strong> Reset your password" in html
    assert "someone asked to reset the password" in html  # the text part
    assert "smtp said no" in html and "<dt>Attempts</dt><dd>6</dd>" in html
    assert RESET_TOKEN not in html and "private link hidden" in html
    assert f'src="/admin/notifications/{reset.id}/html"' in html and "sandbox" in html

    frame = client.get(f"/admin/notifications/{reset.id}/html")
    assert frame.status_code == 200 and frame.mimetype == "text/html"
    csp = frame.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'self'" in csp
    assert RESET_TOKEN not in frame.get_data(as_text=True)
    _db.session.expire_all()
    assert RESET_TOKEN in _db.session.get(Notification, reset.id).variables["reset_url"]


def test_a_message_whose_template_cannot_render_shows_the_error(client, db):
    broken = row("welcome")
    broken.variables = {}  # the template needs "name"
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = client.get(f"/admin/notifications/{broken.id}")
    assert response.status_code == 200 and "cannot be rendered" in response.get_data(as_text=True)
    assert client.get(f"/admin/notifications/{broken.id}/html").status_code == 404


def test_variables_are_shown_escaped(client, db):
    hostile = row("welcome")
    hostile.variables = {**hostile.variables, "name": "<img src=x onerror=alert(1)>"}
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/notifications/{hostile.id}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x" in html


@pytest.mark.parametrize("path", ["/admin/notifications/99999999999", "/admin/notifications/0"])
def test_unknown_or_huge_ids_are_404(client, db, path):
    sign_in_staff(client, "staff")
    assert client.get(path).status_code == 404
    assert client.get(path + "/html").status_code == 404
    assert post(client, path + "/retry").status_code == 404


def test_retrying_one_dead_letter_sends_it_and_is_audited(client, db):
    dead = row("welcome")
    commit_unit_of_work()
    member = sign_in_staff(client, "staff")
    response = post(client, f"/admin/notifications/{dead.id}/retry")
    assert response.status_code == 302
    again = fresh(dead.id)
    assert again.status == "sent" and again.attempts == 1  # fresh attempt count, delivered
    event = _db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "notifications.retried")
    ).scalar_one()
    assert event.actor_id == member.id and str(dead.id) in event.detail


def test_only_dead_letters_can_be_retried(client, db):
    sent = row("welcome", status="sent")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = post(client, f"/admin/notifications/{sent.id}/retry")
    assert response.status_code == 409 and "Only dead" in response.get_data(as_text=True)
    assert fresh(sent.id).attempts == 1


def test_bulk_retry_requeues_only_the_dead_among_the_selected(client, db):
    dead_one, dead_two = row("welcome"), row("order-shipped")
    sent = row("welcome", status="sent")
    failed = row("welcome", status="failed")
    untouched_dead = row("welcome")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = post(
        client,
        "/admin/notifications/retry",
        {"ids": [dead_one.id, dead_two.id, sent.id, failed.id, "junk", "99999999999"]},
    )
    assert response.status_code == 302
    assert fresh(dead_one.id).status == "sent" and fresh(dead_two.id).status == "sent"
    assert (fresh(sent.id).status, fresh(sent.id).attempts) == ("sent", 1)
    assert (fresh(failed.id).status, fresh(failed.id).attempts) == ("failed", 1)
    assert fresh(untouched_dead.id).status == "dead"
    flashed = client.get("/admin/notifications").get_data(as_text=True)
    assert "2 message(s) queued again" in flashed and "2 were not dead" in flashed


def test_bulk_retry_of_all_dead_matching_the_filters(client, db):
    welcome_dead = [row("welcome"), row("welcome")]
    shipped_dead = row("order-shipped")
    sent = row("welcome", status="sent")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/notifications?template=welcome").get_data(as_text=True)
    assert "Retry all 2 dead matching these filters" in html
    response = post(
        client, "/admin/notifications/retry", {"scope": "filtered", "template": "welcome"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/notifications?template=welcome"
    assert [fresh(n.id).status for n in welcome_dead] == ["sent", "sent"]
    assert fresh(shipped_dead.id).status == "dead"
    assert fresh(sent.id).attempts == 1


def test_bulk_retry_with_nothing_selected_changes_nothing(client, db):
    dead = row("welcome")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = post(client, "/admin/notifications/retry", {})
    assert response.status_code == 302
    assert fresh(dead.id).status == "dead"
    assert "Nothing to retry" in client.get("/admin/notifications").get_data(as_text=True)

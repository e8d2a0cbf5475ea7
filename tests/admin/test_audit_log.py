"""The audit log viewer: admins only, newest first, filters, values escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.accounts.audit import audit
from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work
from app.extensions import db as _db
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff


def event(action: str, *, when: datetime, actor=None, target=None, detail: str = "", text=""):
    row = audit(
        action,
        actor_id=actor.id if actor else None,
        target_user_id=target.id if target else None,
        target=text,
        detail=detail,
    )
    row.created_at = when
    _db.session.flush()
    return row


def details(client, query: str = "") -> list[str]:
    """The detail column of the rows shown, in page order (each test's details are unique
    words starting with "d-")."""
    import re

    html = client.get(f"/admin/audit?{query}").get_data(as_text=True)
    return re.findall(r"<td>(d-[a-z0-9-]+)</td>", html)


@pytest.fixture
def people(db):
    ada = make_user("ada@example.com", name="Ada")
    bob = make_user("bob@example.com", name="Bob")
    event("account.role_changed", when=_at(3), actor=bob, target=ada, detail="d-role")
    event("account.unlocked", when=_at(5), actor=bob, target=ada, detail="d-unlock")
    event("login.failure", when=_at(7), target=bob, text="bob@example.com", detail="d-fail")
    event("orders.refunded", when=_at(9), actor=ada, text="SS-1234", detail="d-refund")
    commit_unit_of_work()
    return ada, bob


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, 12, 0, tzinfo=UTC)


def test_customers_get_404_and_staff_403(client, db, app):
    make_user("shopper@example.com")
    commit_unit_of_work()
    login(client, "shopper@example.com")
    assert client.get("/admin/audit").status_code == 404
    staff = app.test_client()
    sign_in_staff(staff, "staff")
    assert staff.get("/admin/audit").status_code == 403
    assert "/admin/audit" not in staff.get("/admin/").get_data(as_text=True)  # not in the nav


def test_admins_see_events_newest_first(client, db, people):
    sign_in_staff(client, "admin")
    assert details(client) == ["d-refund", "d-fail", "d-unlock", "d-role"]
    assert details(client, "sort=created") == ["d-role", "d-unlock", "d-fail", "d-refund"]


def test_filters(client, db, people):
    ada, bob = people
    sign_in_staff(client, "admin")
    assert details(client, "action=account.") == ["d-unlock", "d-role"]
    assert details(client, "action=ACCOUNT.UNL") == ["d-unlock"]
    assert details(client, "action=ount") == []  # a prefix, not anywhere
    assert details(client, "action=%25") == []  # wildcards are literal
    assert details(client, "actor=bob@example") == ["d-unlock", "d-role"]
    assert details(client, f"target={ada.id}") == ["d-unlock", "d-role"]
    assert details(client, "target=bob@") == ["d-fail"]  # the account, or the text target
    assert details(client, "target=SS-1234") == ["d-refund"]
    assert details(client, "target=99999999999999") == []
    assert details(client, "since=2026-11-05&until=2026-11-07") == ["d-fail", "d-unlock"]
    assert details(client, "since=2026-11-08") == ["d-refund"]


def test_an_impossible_date_is_a_400_with_a_message(client, db, people):
    sign_in_staff(client, "admin")
    response = client.get("/admin/audit?since=2026-13-45")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Enter a date like" in html
    assert 'aria-describedby="audit-since-error"' in html
    reversed_range = client.get("/admin/audit?since=2026-11-09&until=2026-11-01")
    assert reversed_range.status_code == 200
    assert "end date is before the start date" in reversed_range.get_data(as_text=True)


def test_values_are_escaped(client, db):
    make_user("x@example.com")
    audit("login.failure", target="<script>alert(1)</script>", detail='"><img src=x onerror=1>')
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


def test_staff_actions_elsewhere_appear_with_their_actor(client, db):
    target = make_user("target@example.com")
    commit_unit_of_work()
    admin = sign_in_staff(client, "admin")
    token_page = client.get(f"/admin/customers/{target.id}").get_data(as_text=True)
    from tests.admin.helpers import csrf_from

    client.post(
        f"/admin/customers/{target.id}/deactivate", data={"csrf_token": csrf_from(token_page)}
    )
    html = client.get("/admin/audit?action=account.deactivated").get_data(as_text=True)
    assert "account.deactivated" in html and admin.email in html and target.email in html
    assert _db.session.query(AuditEvent).filter_by(action="account.deactivated").count() == 1


def test_pages(client, db):
    for i in range(30):
        audit("bulk.event", detail=f"d-n{i}")
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    html = client.get("/admin/audit?action=bulk.").get_data(as_text=True)
    assert "Showing 1–25 of 30 events" in html
    second = client.get("/admin/audit?action=bulk.&page=2").get_data(as_text=True)
    assert "Showing 26–30 of 30 events" in second

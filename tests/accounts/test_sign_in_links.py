"""Sign-in links by email: single use, short-lived, rate-limited, enumeration-safe, audited;
on the website (a button behind the link) and in the API."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pyotp
import sqlalchemy as sa

from app.accounts.models import AuditEvent, SignInLink
from app.accounts.sign_in_links import use_sign_in_link
from app.accounts.signed_links import TokenInvalid
from app.db import commit_unit_of_work, unit_of_work, utcnow
from app.extensions import db as _db
from app.notifications.models import Notification
from tests.accounts.helpers import csrf_token, make_user
from tests.checkout.conftest import own_app  # noqa: F401 - a fixture
from tests.concurrency import run_at_once

LINK = re.compile(r"/account/login/link/([A-Za-z0-9_-]+)")


def ask(client, email: str, **kwargs):
    token = csrf_token(client, "/account/login/link")
    return client.post("/account/login/link", data={"email": email, "csrf_token": token}, **kwargs)


def links_sent(to: str) -> list[str]:
    rows = _db.session.execute(
        sa.select(Notification)
        .where(Notification.template == "sign-in-link", Notification.to_address == to)
        .order_by(Notification.id)
    ).scalars()
    return [LINK.search(row.variables["sign_in_url"]).group(1) for row in rows]


def press(client, token: str):
    page = client.get(f"/account/login/link/{token}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(f"/account/login/link/{token}", data={"csrf_token": csrf})


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def actions(action: str) -> list[AuditEvent]:
    return list(
        _db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def test_a_link_signs_in_once_and_never_again(client, db, app):
    make_user("ada@example.com")
    commit_unit_of_work()
    response = ask(client, "ada@example.com")
    assert response.status_code == 302
    [token] = links_sent("ada@example.com")

    # Opening the link (or a mail scanner fetching it) signs nobody in.
    assert client.get(f"/account/login/link/{token}").status_code == 200
    assert not signed_in(client)
    response = press(client, token)
    assert response.status_code == 302
    page = client.get("/account")
    assert page.status_code == 200
    assert "You are signed in with the link" in page.get_data(as_text=True)

    other = app.test_client()
    again = other.get(f"/account/login/link/{token}")
    assert again.status_code == 400 and "This link was used already" in again.get_data(as_text=True)
    csrf = csrf_token(other, "/account/login/link")
    used = other.post(f"/account/login/link/{token}", data={"csrf_token": csrf})
    assert used.status_code == 400
    assert not signed_in(other)
    assert [a.detail for a in actions("account.sign_in_link_refused")] == ["used"]
    assert len(actions("account.sign_in_link_used")) == 1


def test_asking_looks_the_same_with_or_without_an_account(client, db, app):
    make_user("ada@example.com")
    make_user("boss@example.com", role="staff")
    commit_unit_of_work()
    answers = []
    for email in ("ada@example.com", "nobody@example.com", "boss@example.com"):
        browser = app.test_client()
        response = ask(browser, email)
        page = browser.get(response.headers["Location"]).get_data(as_text=True)
        flash = re.search(r"If a customer account exists[^<]*", page).group(0)
        answers.append((response.status_code, response.headers["Location"], flash))
    assert answers[0] == answers[1] == answers[2]
    assert len(links_sent("ada@example.com")) == 1
    assert links_sent("nobody@example.com") == links_sent("boss@example.com") == []
    assert [a.target for a in actions("account.sign_in_link_requested")] == [
        "nobody@example.com",
        "boss@example.com",
    ]


def test_a_link_expires_and_a_newer_one_retires_it(client, db, app):
    make_user("ada@example.com")
    commit_unit_of_work()
    ask(client, "ada@example.com")
    ask(client, "ada@example.com")
    older, newer = links_sent("ada@example.com")
    page = client.get(f"/account/login/link/{older}")
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)

    _db.session.execute(sa.update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    commit_unit_of_work()
    page = client.get(f"/account/login/link/{newer}")
    assert page.status_code == 400 and "This link has expired" in page.get_data(as_text=True)
    assert "Email me a new sign-in link" in page.get_data(as_text=True)


def test_asking_is_limited_per_address_whoever_asks(client, db, app):
    make_user("ada@example.com")
    commit_unit_of_work()
    statuses = []
    for i in range(4):
        browser = app.test_client()
        statuses.append(
            ask(
                browser, "Ada@Example.COM", environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}
            ).status_code
        )
    assert statuses == [302, 302, 302, 429]
    assert len(links_sent("ada@example.com")) == 3
    assert ask(app.test_client(), "someone@example.com").status_code == 302  # others unaffected


def test_a_customer_with_two_factor_still_gives_the_code(client, db):
    user = make_user("ada@example.com")
    user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
    commit_unit_of_work()
    ask(client, "ada@example.com")
    [token] = links_sent("ada@example.com")
    response = press(client, token)
    assert response.status_code == 302 and "/two-factor" in response.headers["Location"]
    assert not signed_in(client)


def test_hostile_tokens_are_a_clear_refusal(client, db):
    for token in ("x" * 300, "%00", "٣" * 30, "a" * 43, "../../etc"):
        response = client.get(f"/account/login/link/{token}")
        assert response.status_code in (400, 404), token


def test_the_api_sends_and_uses_links_and_honours_two_factor(client, db):
    make_user("ada@example.com")
    two = make_user("tom@example.com")
    secret = pyotp.random_base32()
    two.totp_secret, two.totp_enabled_at = secret, utcnow()
    commit_unit_of_work()
    for email in ("ada@example.com", "nobody@example.com"):
        response = client.post("/api/v1/auth/sign-in-link", json={"email": email})
        assert response.status_code == 202 and response.get_data() == b""
    [token] = links_sent("ada@example.com")
    signed = client.post("/api/v1/auth/sign-in-link/use", json={"token": token})
    assert signed.status_code == 200
    access = signed.get_json()["access_token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.get_json()["email"] == "ada@example.com"
    reused = client.post("/api/v1/auth/sign-in-link/use", json={"token": token})
    assert reused.status_code == 401 and reused.get_json()["code"] == "link-used"
    bogus = client.post("/api/v1/auth/sign-in-link/use", json={"token": "x" * 43})
    assert bogus.status_code == 401 and bogus.get_json()["code"] == "link-invalid"

    client.post("/api/v1/auth/sign-in-link", json={"email": "tom@example.com"})
    [tom] = links_sent("tom@example.com")
    missing = client.post("/api/v1/auth/sign-in-link/use", json={"token": tom})
    assert missing.status_code == 401 and missing.get_json()["code"] == "totp-required"
    ok = client.post(
        "/api/v1/auth/sign-in-link/use", json={"token": tom, "totp": pyotp.TOTP(secret).now()}
    )
    assert ok.status_code == 200  # the link was not used up by the attempt without the code


def test_two_presses_at_once_sign_in_once(own_app):  # noqa: F811 - the fixture
    from app.accounts.sign_in_links import send_sign_in_link

    email = f"twin-{uuid.uuid4().hex[:8]}@example.com"
    with own_app.test_request_context(method="POST"), unit_of_work():
        make_user(email)
        _db.session.flush()
        send_sign_in_link(email)
    with own_app.app_context():
        [token] = links_sent(email)

    def use(_: int) -> object:
        with own_app.test_request_context(method="POST"), unit_of_work():
            return use_sign_in_link(token).user.email

    results = run_at_once(own_app, 4, use)
    assert results.count(email) == 1, results
    assert all(isinstance(r, TokenInvalid) for r in results if r != email), results


def test_a_link_that_confirms_the_address_ends_whatever_came_before(client, db, app):
    """Someone signs up with another person's address and waits; the owner later signs in
    with a link: the squatter's password and sessions stop working."""
    from tests.accounts.helpers import PASSWORD, login

    make_user("ada@example.com", verified=False)
    commit_unit_of_work()
    squatter = app.test_client()
    assert login(squatter).status_code == 302 and signed_in(squatter)
    ask(client, "ada@example.com")
    [token] = links_sent("ada@example.com")
    assert press(client, token).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "any password set for this account before is no longer valid" in page
    assert not signed_in(squatter)
    assert login(app.test_client(), "ada@example.com", PASSWORD).status_code != 302


def test_securing_the_account_retires_links_on_their_way(client, db, app):
    from tests.accounts.helpers import login

    make_user("ada@example.com")
    commit_unit_of_work()
    ask(app.test_client(), "ada@example.com")
    [token] = links_sent("ada@example.com")
    login(client)
    csrf = csrf_token(client, "/account/security")
    client.post("/account/security/logout-everywhere", data={"csrf_token": csrf})
    page = app.test_client().get(f"/account/login/link/{token}")
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)

"""Passkeys on the server side, with a software authenticator whose signatures are real:
customers add one and sign in with it; staff use one as their second factor only; every
challenge works once; foreign origins, other people's passkeys and replays are refused."""

from __future__ import annotations

import json

import pyotp
import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, Passkey
from app.db import commit_unit_of_work, utcnow
from app.extensions import db as _db
from tests.accounts.helpers import PASSWORD, csrf_token, login, make_user
from tests.fakes.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:5000"  # the tests' SHOP_BASE_URL is 127.0.0.1:5000: see rp_id()


def post_json(client, url: str, body: dict | None = None, page: str = "/account/login"):
    return client.post(url, json=body or {}, headers={"X-CSRFToken": csrf_token(client, page)})


def add_passkey(
    client, device: SoftAuthenticator, name: str = "My phone", password: str = PASSWORD
):
    options = post_json(
        client, "/account/passkeys/options", {"password": password}, page="/account/passkeys"
    )
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = device.create(options.get_data(as_text=True))
    return post_json(
        client,
        "/account/passkeys",
        {"credential": credential, "name": name},
        page="/account/passkeys",
    )


def sign_in_with(client, device: SoftAuthenticator, **kwargs):
    options = post_json(client, "/account/login/passkey/options")
    assert options.status_code == 200
    return post_json(
        client, "/account/login/passkey", {"credential": device.get(options.get_json(), **kwargs)}
    )


def actions(action: str) -> list[AuditEvent]:
    return list(
        _db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


@pytest.fixture
def customer(client, db):
    user = make_user("ada@example.com")
    commit_unit_of_work()
    assert login(client).status_code == 302
    return user


def test_a_customer_adds_a_passkey_and_signs_in_with_it(client, db, app, customer):
    device = SoftAuthenticator(origin=ORIGIN)
    added = add_passkey(client, device, "  Ada's   phone ")
    assert added.status_code == 201 and added.get_json() == {"redirect": "/account/passkeys"}
    page = client.get("/account/passkeys").get_data(as_text=True)
    assert "Passkey “Ada&#39;s phone” added" in page or "Passkey “Ada's phone” added" in page
    assert "Your passkeys (1 of 10)" in page
    [key] = _db.session.execute(sa.select(Passkey)).scalars().all()
    assert key.user_id == customer.id and key.credential_id == device.id

    browser = app.test_client()  # another browser, nobody signed in
    signed = sign_in_with(browser, device)
    assert signed.status_code == 200 and signed.get_json()["redirect"]
    assert browser.get("/account").status_code == 200
    assert len(actions("login.passkey")) == 1
    _db.session.expire_all()
    assert _db.session.get(Passkey, key.id).last_used_at is not None


def test_a_challenge_works_once_and_a_replay_is_refused(client, db, app, customer):
    device = SoftAuthenticator(origin=ORIGIN)
    add_passkey(client, device)
    browser = app.test_client()
    options = post_json(browser, "/account/login/passkey/options")
    answer = device.get(options.get_json())
    first = post_json(browser, "/account/login/passkey", {"credential": answer})
    assert first.status_code == 200
    thief = app.test_client()
    post_json(thief, "/account/login/passkey/options")  # a ceremony of its own
    replay = post_json(thief, "/account/login/passkey", {"credential": answer})
    assert replay.status_code == 400 and replay.get_json()["code"] == "passkey-refused"
    assert thief.get("/account").status_code != 200


def test_a_foreign_origin_or_an_unverified_user_is_refused(client, db, app, customer):
    device = SoftAuthenticator(origin=ORIGIN)
    add_passkey(client, device)
    phished = sign_in_with(app.test_client(), device, origin="https://shop.example.evil")
    assert phished.status_code == 400
    unverified = sign_in_with(app.test_client(), device, verified=False)
    assert unverified.status_code == 400
    assert [a.detail[:40] for a in actions("account.passkey_refused")] and len(
        actions("account.passkey_refused")
    ) == 2
    assert not actions("login.passkey")


def test_a_removed_passkey_signs_nobody_in(client, db, app, customer):
    device = SoftAuthenticator(origin=ORIGIN)
    add_passkey(client, device)
    key = _db.session.execute(sa.select(Passkey)).scalar_one()
    token = csrf_token(client, "/account/passkeys")
    other = make_user("eve@example.com")
    commit_unit_of_work()
    eve = app.test_client()
    login(eve, "eve@example.com")
    # Someone else's passkey id: not found, nothing removed.
    eve_token = csrf_token(eve, "/account/passkeys")
    assert (
        eve.post(f"/account/passkeys/{key.id}/remove", data={"csrf_token": eve_token}).status_code
        == 404
    )
    assert other.id != customer.id
    response = client.post(f"/account/passkeys/{key.id}/remove", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Passkey “My phone” removed" in client.get("/account/passkeys").get_data(as_text=True)
    assert sign_in_with(app.test_client(), device).status_code == 400


def test_the_same_device_is_not_added_twice_and_hostile_answers_are_clear(client, db, customer):
    device = SoftAuthenticator(origin=ORIGIN)
    assert add_passkey(client, device).status_code == 201
    again = add_passkey(client, device)
    assert again.status_code == 400 and again.get_json()["code"] == "passkey-exists"
    for credential in ("x" * 70_000, {"id": 1}, [], "{", {"id": "a", "response": "nope"}):
        post_json(
            client, "/account/passkeys/options", {"password": PASSWORD}, page="/account/passkeys"
        )
        response = post_json(
            client, "/account/passkeys", {"credential": credential}, page="/account/passkeys"
        )
        assert response.status_code == 400, credential
    # No ceremony begun at all.
    response = post_json(client, "/account/login/passkey", {"credential": {"id": "x"}})
    assert response.status_code == 400 and response.get_json()["code"] == "ceremony-invalid"


def test_staff_use_a_passkey_as_the_second_factor_only(client, db, app):
    staff = make_user("boss@example.com", role="staff")
    secret = pyotp.random_base32()
    staff.totp_secret, staff.totp_enabled_at = secret, utcnow()
    commit_unit_of_work()
    login(client, "boss@example.com")
    page = client.get("/account/login/two-factor")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
    client.post(
        "/account/login/two-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token.split('"')[0]},
    )
    device = SoftAuthenticator(origin=ORIGIN)
    assert add_passkey(client, device).status_code == 201

    # Alone, it signs no staff member in.
    alone = sign_in_with(app.test_client(), device)
    assert alone.status_code == 400
    assert "staff" in actions("account.passkey_refused")[-1].detail

    # After the password, it stands in for the code.
    browser = app.test_client()
    assert login(browser, "boss@example.com").headers["Location"].endswith("/two-factor")
    assert "Use a passkey" in browser.get("/account/login/two-factor").get_data(as_text=True)
    page = "/account/login/two-factor"
    options = post_json(browser, "/account/login/two-factor/passkey/options", page=page)
    assert options.status_code == 200
    assert json.loads(options.get_data(as_text=True))["allowCredentials"][0]["id"] == device.id
    done = post_json(
        browser,
        "/account/login/two-factor/passkey",
        {"credential": device.get(options.get_json())},
        page=page,
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert browser.get("/admin/").status_code == 200


def test_another_accounts_passkey_is_no_second_factor(client, db, app):
    staff = make_user("boss@example.com", role="staff")
    staff.totp_secret, staff.totp_enabled_at = pyotp.random_base32(), utcnow()
    make_user("ada@example.com")
    commit_unit_of_work()
    login(client, "ada@example.com")
    ada_device = SoftAuthenticator(origin=ORIGIN)
    add_passkey(client, ada_device)
    browser = app.test_client()
    login(browser, "boss@example.com", PASSWORD)
    page = "/account/login/two-factor"
    refused = post_json(browser, "/account/login/two-factor/passkey/options", page=page)
    assert refused.status_code == 409  # the staff member has no passkey
    assert browser.get("/admin/").status_code != 200


def test_adding_a_passkey_asks_for_the_password_and_tells_the_owner(client, db, customer):
    """A stolen session must not plant a passkey: it signs in without password or code."""
    from app.notifications.models import Notification

    refused = post_json(
        client, "/account/passkeys/options", {"password": "not it"}, page="/account/passkeys"
    )
    assert refused.status_code == 403 and refused.get_json()["code"] == "wrong-password"
    assert actions("account.passkey_refused")[-1].detail == "register: wrong password"
    assert add_passkey(client, SoftAuthenticator(origin=ORIGIN)).status_code == 201
    [mail] = (
        _db.session.execute(sa.select(Notification).where(Notification.template == "passkey-added"))
        .scalars()
        .all()
    )
    assert mail.to_address == "ada@example.com" and mail.variables["passkey_name"] == "My phone"

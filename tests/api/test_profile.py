"""Profile resources: PATCH /me, the address book (with IDOR checks), notification
preferences, password change and account deletion, through the API as the app uses it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Address, AuditEvent, User, UserSession
from app.api.models import ApiToken
from app.extensions import db as _db
from app.notifications.models import Suppression
from tests.accounts.helpers import PASSWORD, make_user
from tests.accounts.helpers import login as web_login
from tests.api.helpers import bearer, tokens

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "10 Downing Street",
    "city": "London",
    "postal_code": "sw1a2aa",
    "country": "gb",
}
NEW_PASSWORD = "an entirely different passphrase 42"


@pytest.fixture
def ada(db):
    return make_user()


@pytest.fixture
def auth(client, ada):
    return bearer(tokens(client)["access_token"])


def fresh(user: User) -> User:
    _db.session.expire_all()
    return _db.session.get(User, user.id)


def audit_actions(user_id: int) -> list[str]:
    return list(
        _db.session.execute(
            sa.select(AuditEvent.action).where(AuditEvent.target_user_id == user_id)
        ).scalars()
    )


def assert_field_problem(response, *fields: str) -> dict:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "validation-failed"
    for field in fields:
        assert body["errors"][field], field
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/v1/me"),
        ("DELETE", "/api/v1/me"),
        ("GET", "/api/v1/me/addresses"),
        ("POST", "/api/v1/me/addresses"),
        ("GET", "/api/v1/me/addresses/1"),
        ("PATCH", "/api/v1/me/addresses/1"),
        ("DELETE", "/api/v1/me/addresses/1"),
        ("GET", "/api/v1/me/preferences"),
        ("PUT", "/api/v1/me/preferences"),
        ("POST", "/api/v1/me/password"),
    ],
)
def test_every_profile_operation_needs_a_token(client, db, method, path):
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.get_json()["code"] == "authentication-required"


# -- PATCH /me ----------------------------------------------------------------------------------


def test_update_name_and_phone_like_the_website(client, ada, auth):
    response = client.patch("/api/v1/me", json={"name": "  Ada   King ", "phone": "07400 123456"})
    assert response.status_code == 401  # no token, nothing changes
    response = client.patch(
        "/api/v1/me", json={"name": "  Ada   King ", "phone": "07400 123456"}, headers=auth
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "Ada King" and body["phone"] == "+447400123456"
    assert body["email"] == "ada@example.com"
    user = fresh(ada)
    assert (user.name, user.phone) == ("Ada King", "+447400123456")
    assert "profile.updated" in audit_actions(ada.id)

    # Only what is sent changes; an empty phone removes the number.
    assert client.patch("/api/v1/me", json={"phone": ""}, headers=auth).get_json()["name"] == (
        "Ada King"
    )
    assert fresh(ada).phone == ""
    assert client.patch("/api/v1/me", json={}, headers=auth).status_code == 200
    assert fresh(ada).name == "Ada King"


@pytest.mark.parametrize("phone", ["12345", "not a number", "+44 1234"])
def test_update_refuses_an_invalid_phone_with_the_websites_message(client, ada, auth, phone):
    response = client.patch("/api/v1/me", json={"name": "Someone", "phone": phone}, headers=auth)
    body = assert_field_problem(response, "phone")
    assert body["errors"]["phone"][0].startswith("Enter a valid phone number")
    user = fresh(ada)
    assert (user.name, user.phone) == ("Ada Lovelace", "")  # nothing stored


def test_update_field_errors(client, ada, auth):
    assert_field_problem(client.patch("/api/v1/me", json={"name": "   "}, headers=auth), "name")
    assert_field_problem(client.patch("/api/v1/me", json={"name": ""}, headers=auth), "name")
    assert_field_problem(client.patch("/api/v1/me", json={"email": "x@y.z"}, headers=auth), "email")
    bad_json = client.patch("/api/v1/me", data="{", content_type="application/json", headers=auth)
    assert bad_json.status_code == 400 and bad_json.get_json()["code"] == "invalid-json"


# -- addresses ----------------------------------------------------------------------------------


def test_address_book_crud(client, ada, auth):
    assert client.get("/api/v1/me/addresses", headers=auth).get_json() == {
        "items": [],
        "max_addresses": 20,
    }
    created = client.post("/api/v1/me/addresses", json=ADDRESS, headers=auth)
    assert created.status_code == 201, created.get_json()
    first = created.get_json()
    assert first["postal_code"] == "SW1A 2AA" and first["country"] == "GB"
    assert first["country_name"] == "United Kingdom"
    assert first["is_default_shipping"] and first["is_default_billing"]  # the first one

    second = client.post(
        "/api/v1/me/addresses",
        json={
            **ADDRESS,
            "line1": "1 Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
            "phone": "+1 202 555 0143",
            "default_shipping": True,
        },
        headers=auth,
    ).get_json()
    assert second["phone"] == "+12025550143"
    assert second["is_default_shipping"] and not second["is_default_billing"]
    listing = client.get("/api/v1/me/addresses", headers=auth).get_json()["items"]
    assert [a["id"] for a in listing] == [first["id"], second["id"]]
    assert [a["is_default_shipping"] for a in listing] == [False, True]

    detail = client.get(f"/api/v1/me/addresses/{first['id']}", headers=auth)
    assert detail.status_code == 200 and detail.get_json()["line1"] == "10 Downing Street"

    patched = client.patch(
        f"/api/v1/me/addresses/{first['id']}",
        json={"line2": "Westminster", "default_shipping": True, "default_billing": False},
        headers=auth,
    )
    assert patched.status_code == 200, patched.get_json()
    body = patched.get_json()
    assert body["line2"] == "Westminster" and body["city"] == "London"
    assert body["is_default_shipping"] and body["is_default_billing"]  # false is ignored

    deleted = client.delete(f"/api/v1/me/addresses/{first['id']}", headers=auth)
    assert deleted.status_code == 204 and deleted.data == b""
    remaining = client.get("/api/v1/me/addresses", headers=auth).get_json()["items"]
    assert [a["id"] for a in remaining] == [second["id"]]
    assert remaining[0]["is_default_shipping"] and remaining[0]["is_default_billing"]
    assert client.get(f"/api/v1/me/addresses/{first['id']}", headers=auth).status_code == 404
    actions = audit_actions(ada.id)
    assert {"address.added", "address.updated", "address.deleted"} <= set(actions)


def test_address_validation_is_the_websites(client, ada, auth):
    body = assert_field_problem(
        client.post(
            "/api/v1/me/addresses",
            json={**ADDRESS, "postal_code": "12345", "phone": "12"},
            headers=auth,
        ),
        "postal_code",
        "phone",
    )
    assert "SW1A 1AA" in body["errors"]["postal_code"][0]  # the example for the country
    assert_field_problem(
        client.post("/api/v1/me/addresses", json={**ADDRESS, "country": "XX"}, headers=auth),
        "country",
    )
    assert_field_problem(
        client.post(
            "/api/v1/me/addresses",
            json={**ADDRESS, "country": "US", "postal_code": "62701"},
            headers=auth,
        ),
        "region",
    )
    assert_field_problem(
        client.post("/api/v1/me/addresses", json={"country": "GB"}, headers=auth),
        "full_name",
        "line1",
        "city",
    )
    assert client.get("/api/v1/me/addresses", headers=auth).get_json()["items"] == []

    address_id = client.post("/api/v1/me/addresses", json=ADDRESS, headers=auth).get_json()["id"]
    assert_field_problem(
        client.patch(
            f"/api/v1/me/addresses/{address_id}", json={"country": "DE"}, headers=auth
        ),  # a British postcode is not a German one
        "postal_code",
    )
    assert fresh(ada).addresses[0].country == "GB"


def test_address_book_limit_is_a_409(client, ada, auth, monkeypatch):
    monkeypatch.setattr("app.accounts.addresses.MAX_ADDRESSES", 2)
    for _ in range(2):
        assert client.post("/api/v1/me/addresses", json=ADDRESS, headers=auth).status_code == 201
    response = client.post("/api/v1/me/addresses", json=ADDRESS, headers=auth)
    assert response.status_code == 409
    assert response.get_json()["code"] == "address-limit"


def test_another_users_address_is_not_found(client, ada, auth):
    """IDOR: someone else's address id answers exactly like one that does not exist."""
    make_user("bob@example.com", name="Bob")
    bob = bearer(tokens(client, "bob@example.com")["access_token"])
    bobs = client.post(
        "/api/v1/me/addresses", json={**ADDRESS, "full_name": "Bob"}, headers=bob
    ).get_json()["id"]

    unknown = client.get("/api/v1/me/addresses/987654", headers=auth)
    for response in (
        client.get(f"/api/v1/me/addresses/{bobs}", headers=auth),
        client.patch(f"/api/v1/me/addresses/{bobs}", json={"line1": "Mine"}, headers=auth),
        client.delete(f"/api/v1/me/addresses/{bobs}", headers=auth),
    ):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == unknown.get_json()["code"] == "address-not-found"
    assert client.get("/api/v1/me/addresses", headers=auth).get_json()["items"] == []
    kept = _db.session.get(Address, bobs)
    assert kept is not None and kept.line1 == ADDRESS["line1"] and kept.full_name == "Bob"


@pytest.mark.parametrize("address_id", ["0", "2147483648", "99999999999999999999", "-1", "abc"])
def test_address_ids_out_of_range_are_404_not_500(client, ada, auth, address_id):
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(
            f"/api/v1/me/addresses/{address_id}", method=method, json={}, headers=auth
        )
        assert response.status_code == 404, (method, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"


def test_address_id_is_bounded_in_the_openapi_document(client, db):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = doc["paths"]["/api/v1/me/addresses/{address_id}"]["get"]["parameters"]
    schema = next(p for p in params if p["name"] == "address_id")["schema"]
    assert schema["type"] == "integer" and schema["maximum"] == 2**31 - 1


# -- preferences --------------------------------------------------------------------------------

ALL_OFF = {
    "email_marketing": False,
    "sms_transactional": False,
    "sms_marketing": False,
    "whatsapp_transactional": False,
    "whatsapp_marketing": False,
}


def test_preferences_defaults_and_update(client, ada, auth):
    assert client.get("/api/v1/me/preferences", headers=auth).get_json() == {
        "email_transactional": True,
        **ALL_OFF,
        "locked": ["email_transactional"],
    }
    _db.session.add(Suppression(address="ada@example.com", category="marketing", reason="x"))
    _db.session.flush()
    response = client.put(
        "/api/v1/me/preferences", json={**ALL_OFF, "email_marketing": True}, headers=auth
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email_marketing"] is True
    assert client.get("/api/v1/me/preferences", headers=auth).get_json()["email_marketing"]
    # Opting in again lifts the one-click unsubscribe, as on the website.
    assert _db.session.execute(sa.select(Suppression)).first() is None
    assert "preferences.updated" in audit_actions(ada.id)


def test_preferences_sms_needs_a_phone_and_email_stays_on(client, ada, auth):
    body = assert_field_problem(
        client.put(
            "/api/v1/me/preferences",
            json={**ALL_OFF, "sms_transactional": True, "whatsapp_marketing": True},
            headers=auth,
        ),
        "sms_transactional",
        "whatsapp_marketing",
    )
    assert "phone number" in body["errors"]["sms_transactional"][0]
    # Transactional email cannot be switched off; the schema says so.
    assert_field_problem(
        client.put(
            "/api/v1/me/preferences", json={**ALL_OFF, "email_transactional": False}, headers=auth
        ),
        "email_transactional",
    )
    assert_field_problem(
        client.put("/api/v1/me/preferences", json={"email_marketing": True}, headers=auth),
        "sms_marketing",
    )

    client.patch("/api/v1/me", json={"phone": "07400 123456"}, headers=auth)
    response = client.put(
        "/api/v1/me/preferences", json={**ALL_OFF, "sms_transactional": True}, headers=auth
    )
    assert response.status_code == 200 and response.get_json()["sms_transactional"] is True


# -- password -----------------------------------------------------------------------------------


def _open_families(user_id: int) -> set[str]:
    return set(
        _db.session.execute(
            sa.select(ApiToken.family_id).where(
                ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)
            )
        ).scalars()
    )


def test_change_password_ends_every_sign_in_and_returns_a_new_pair(app, client, ada):
    mine = tokens(client)
    other_device = tokens(client)
    browser = app.test_client()
    assert web_login(browser).status_code == 302

    response = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(mine["access_token"]),
    )
    assert response.status_code == 200, response.get_json()
    pair = response.get_json()
    assert pair["token_type"] == "Bearer" and pair["access_token"] != mine["access_token"]

    for old in (mine, other_device):
        assert client.get("/api/v1/me", headers=bearer(old["access_token"])).status_code == 401
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert refreshed.status_code == 401
    assert browser.get("/account").status_code == 302  # the website session ended too
    open_sessions = _db.session.execute(
        sa.select(sa.func.count()).where(
            UserSession.user_id == ada.id, UserSession.revoked_at.is_(None)
        )
    ).scalar_one()
    assert open_sessions == 0

    assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 200
    assert len(_open_families(ada.id)) == 1
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        ).status_code
        == 200
    )
    assert tokens(client, password=NEW_PASSWORD)
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert "password.changed" in audit_actions(ada.id)


def test_change_password_errors(client, ada, auth):
    wrong = assert_field_problem(
        client.post(
            "/api/v1/me/password",
            json={"current_password": "not it", "new_password": NEW_PASSWORD},
            headers=auth,
        ),
        "current_password",
    )
    assert "not correct" in wrong["errors"]["current_password"][0]
    assert_field_problem(
        client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "password1"},
            headers=auth,
        ),
        "new_password",
    )
    assert_field_problem(
        client.post("/api/v1/me/password", json={"new_password": NEW_PASSWORD}, headers=auth),
        "current_password",
    )
    # Nothing changed and the token still works.
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    assert tokens(client)


def test_change_password_is_limited_per_user(client, ada, auth):
    statuses = [
        client.post(
            "/api/v1/me/password",
            json={"current_password": f"guess {i}", "new_password": NEW_PASSWORD},
            headers=auth,
        ).status_code
        for i in range(11)
    ]
    assert statuses == [422] * 10 + [429]


# -- delete account -----------------------------------------------------------------------------


def test_delete_account_anonymises_and_revokes_tokens(app, client, ada, auth):
    client.post("/api/v1/me/addresses", json=ADDRESS, headers=auth)
    other_device = tokens(client)
    browser = app.test_client()
    assert web_login(browser).status_code == 302

    wrong = client.delete("/api/v1/me", json={"password": "not it"}, headers=auth)
    assert_field_problem(wrong, "password")
    assert client.delete("/api/v1/me", headers=auth).status_code == 400  # no body at all

    response = client.delete("/api/v1/me", json={"password": PASSWORD}, headers=auth)
    assert response.status_code == 204, response.get_json()
    user = fresh(ada)
    assert user.email == f"deleted-{ada.id}@invalid.example"
    assert user.name == "Deleted customer" and user.deleted_at is not None
    assert not user.addresses
    assert "account.deleted" in audit_actions(ada.id)
    assert _open_families(ada.id) == set()
    for token in (auth, bearer(other_device["access_token"])):
        assert client.get("/api/v1/me", headers=token).status_code == 401
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other_device["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert browser.get("/account").status_code == 302
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )


def test_staff_cannot_delete_their_account_through_the_api(client, db):
    make_user("staff@example.com", role="staff")
    auth = bearer(tokens(client, "staff@example.com")["access_token"])
    response = client.delete("/api/v1/me", json={"password": PASSWORD}, headers=auth)
    assert response.status_code == 403
    assert response.get_json()["code"] == "staff-account"
    assert client.get("/api/v1/me", headers=auth).status_code == 200


def test_preferences_take_json_booleans_only(client, ada, auth):
    body = {
        "email_marketing": 0,
        "sms_transactional": False,
        "sms_marketing": False,
        "whatsapp_transactional": False,
        "whatsapp_marketing": "yes",
    }
    response = client.put("/api/v1/me/preferences", json=body, headers=auth)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {"email_marketing", "whatsapp_marketing"}

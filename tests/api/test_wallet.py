"""Passkeys and saved cards through the API: the website's rules behind the other door."""

from __future__ import annotations

from app.db import commit_unit_of_work
from tests.accounts.helpers import PASSWORD, make_user
from tests.api.helpers import bearer, tokens
from tests.catalog import factories
from tests.checkout.conftest import fake_stripe  # noqa: F401 - a fixture
from tests.checkout.helpers import add_to_cart, pay, submit_details
from tests.fakes.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:5000"


def test_an_app_adds_a_passkey_and_signs_in_with_it(client, db):
    make_user("ada@example.com")
    make_user("eve@example.com")
    commit_unit_of_work()
    ada = bearer(tokens(client)["access_token"])
    device = SoftAuthenticator(origin=ORIGIN)

    wrong = client.post("/api/v1/me/passkeys/options", json={"password": "nope"}, headers=ada)
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "wrong-password"
    options = client.post("/api/v1/me/passkeys/options", json={"password": PASSWORD}, headers=ada)
    assert options.status_code == 200
    body = options.get_json()
    assert body["options"]["rp"]["id"] == "localhost"
    assert body["options"]["authenticatorSelection"]["residentKey"] == "required"
    added = client.post(
        "/api/v1/me/passkeys",
        json={
            "ceremony": body["ceremony"],
            "credential": device.create(body["options"]),
            "name": "Pixel",
        },
        headers=ada,
    )
    assert added.status_code == 201 and added.get_json()["name"] == "Pixel"
    again = client.post(
        "/api/v1/me/passkeys",
        json={"ceremony": body["ceremony"], "credential": device.create(body["options"])},
        headers=ada,
    )
    assert again.status_code == 400 and again.get_json()["code"] == "ceremony-invalid"
    listed = client.get("/api/v1/me/passkeys", headers=ada).get_json()
    assert [k["name"] for k in listed["items"]] == ["Pixel"] and listed["max_passkeys"] == 10

    start = client.post("/api/v1/auth/passkey/options").get_json()
    assert start["options"]["allowCredentials"] == []  # the platform offers its accounts
    signed = client.post(
        "/api/v1/auth/passkey",
        json={"ceremony": start["ceremony"], "credential": device.get(start["options"])},
    )
    assert signed.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(signed.get_json()["access_token"]))
    assert me.get_json()["email"] == "ada@example.com"
    replay = client.post(
        "/api/v1/auth/passkey",
        json={"ceremony": start["ceremony"], "credential": device.get(start["options"])},
    )
    assert replay.status_code == 401 and replay.get_json()["code"] == "ceremony-invalid"

    eve = bearer(tokens(client, "eve@example.com")["access_token"])
    key_id = listed["items"][0]["id"]
    assert client.delete(f"/api/v1/me/passkeys/{key_id}", headers=eve).status_code == 404
    assert client.delete(f"/api/v1/me/passkeys/{key_id}", headers=ada).status_code == 204
    start = client.post("/api/v1/auth/passkey/options").get_json()
    gone = client.post(
        "/api/v1/auth/passkey",
        json={"ceremony": start["ceremony"], "credential": device.get(start["options"])},
    )
    assert gone.status_code == 401 and gone.get_json()["code"] == "passkey-refused"


def test_an_app_lists_and_removes_saved_cards(client, db, fake_stripe):  # noqa: F811
    make_user("ada@example.com")
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    from tests.accounts.helpers import login

    login(client)
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="ada@example.com")
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.complete(session_id, save_card=True)
    ada = bearer(tokens(client)["access_token"])

    listed = client.get("/api/v1/me/cards", headers=ada)
    assert listed.status_code == 200
    [card] = listed.get_json()["items"]
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"]) == (
        "visa",
        "4242",
        12,
        2034,
    )
    assert client.delete("/api/v1/me/cards/pm_someone_else", headers=ada).status_code == 404
    fake_stripe.fail_next(3, status=500)
    down = client.get("/api/v1/me/cards", headers=ada)
    assert down.status_code == 503 and down.headers["Retry-After"] == "60"
    assert client.delete(f"/api/v1/me/cards/{card['id']}", headers=ada).status_code == 204
    assert client.get("/api/v1/me/cards", headers=ada).get_json()["items"] == []

"""Confirming an email address through the API: the link's token, and a new link."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.notifications.models import Notification
from tests.accounts.helpers import latest_link, make_user
from tests.api.helpers import bearer, tokens


def _sent(db, to: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.to_address == to, Notification.template == "verify-email")
    )


def test_the_app_confirms_an_address_with_the_links_token(client, db):
    client.post(
        "/api/v1/auth/register",
        json={
            "name": "Ada",
            "email": "ada@example.com",
            "password": "correct horse battery staple",
        },
    )
    token = latest_link("ada@example.com", "verify-email").rsplit("/", 1)[1]
    me = bearer(tokens(client)["access_token"])
    assert client.get("/api/v1/me", headers=me).get_json()["email_verified"] is False

    done = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert done.status_code == 200
    assert done.get_json() == {
        "email": "ada@example.com",
        "email_verified": True,
        "changed_email": False,
        "already_verified": False,
    }
    assert client.get("/api/v1/me", headers=me).get_json()["email_verified"] is True
    again = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 200 and again.get_json()["already_verified"] is True


def test_a_bad_token_is_a_field_error(client, db):
    for token in ("nonsense", "x" * 512):
        response = client.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 422
        assert response.get_json()["errors"]["token"] == ["This confirmation link is not valid."]
    assert client.post("/api/v1/auth/verify-email", json={"token": "x" * 513}).status_code == 422


def test_a_new_link_is_sent_only_while_unconfirmed(client, db):
    make_user(verified=False)
    db.session.commit()
    me = bearer(tokens(client)["access_token"])
    before = _sent(db, "ada@example.com")
    sent = client.post("/api/v1/me/verification", headers=me)
    assert sent.status_code == 202 and sent.get_json() == {"email": "ada@example.com"}
    assert _sent(db, "ada@example.com") == before + 1
    token = latest_link("ada@example.com", "verify-email").rsplit("/", 1)[1]
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
    refused = client.post("/api/v1/me/verification", headers=me)
    assert refused.status_code == 409 and refused.get_json()["code"] == "already-verified"
    assert _sent(db, "ada@example.com") == before + 1
    assert db.session.scalar(sa.select(User.email_verified_at)) is not None


def test_new_links_are_limited(client, db):
    make_user(verified=False)
    db.session.commit()
    me = bearer(tokens(client)["access_token"])
    codes = [client.post("/api/v1/me/verification", headers=me).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    assert client.post("/api/v1/me/verification").status_code == 401

"""API test helpers: JSON calls and sign-in through the real endpoints."""

from __future__ import annotations

from tests.accounts.helpers import PASSWORD


def api_login(client, email: str = "ada@example.com", password: str = PASSWORD, **extra):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})


def tokens(client, email: str = "ada@example.com", password: str = PASSWORD, **extra) -> dict:
    response = api_login(client, email, password, **extra)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}

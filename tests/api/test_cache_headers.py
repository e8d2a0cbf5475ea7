"""Token responses and everything private are never stored by a cache; the catalog is."""

from __future__ import annotations

from tests.accounts.helpers import make_user
from tests.api.helpers import api_login, bearer


def test_tokens_and_private_resources_are_no_store(client, db):
    make_user()
    login = api_login(client)
    assert login.headers["Cache-Control"] == "no-store"
    assert login.headers["Pragma"] == "no-cache"
    pair = login.get_json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["Cache-Control"] == "no-store"
    headers = bearer(refreshed.get_json()["access_token"])
    for path in (
        "/api/v1/me",
        "/api/v1/me/addresses",
        "/api/v1/orders",
        "/api/v1/orders/SS-0000-0000",
        "/api/v1/cart",
        "/api/v1/checkout/summary",
    ):
        response = client.get(path, headers=headers)
        assert response.headers["Cache-Control"] == "no-store", path
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"  # the 401 too
    assert client.get("/api/v1/categories").headers["Cache-Control"] == "public, no-cache"

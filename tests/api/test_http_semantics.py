"""HTTP as clients and caches read it: Vary, challenges, conditional requests."""

from __future__ import annotations

from tests.accounts.helpers import PASSWORD, make_user
from tests.api.helpers import bearer, tokens


def test_api_responses_never_vary_on_or_set_cookies(app, client, db):
    make_user()
    db.session.commit()
    browser = app.test_client()
    browser.get("/cart")  # a website session cookie the API must ignore
    assert browser.get_cookie("session") is not None
    for path in ("/api/v1/products", "/api/v1/categories", "/api/v1", "/api/v1/cart"):
        response = browser.get(path)
        assert "Cookie" not in response.headers.get("Vary", ""), path
        assert "Set-Cookie" not in response.headers, path
    signed_in = browser.get("/api/v1/me", headers=bearer(tokens(client)["access_token"]))
    assert signed_in.status_code == 200 and "Set-Cookie" not in signed_in.headers


def test_wrong_password_is_not_called_an_invalid_token(client, db):
    make_user()
    db.session.commit()
    wrong = client.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "no"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="ShopSphere API"'
    stale = client.get("/api/v1/me", headers=bearer("not-a-token"))
    assert stale.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    none = client.get("/api/v1/me")
    assert none.headers["WWW-Authenticate"] == "Bearer"
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_the_index_has_one_address_and_the_old_one_still_answers(client, db):
    assert client.get("/api/v1").get_json() == client.get("/api/v1/").get_json()
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1" in doc["paths"] and "/api/v1/" not in doc["paths"]


def test_conditional_operations_declare_their_validators(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_BASE_URL", "https://shop.test")
    doc = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert doc["servers"] == [{"url": "https://shop.test", "description": "This shop"}]
    product = doc["paths"]["/api/v1/products/{slug}"]["get"]
    assert "If-None-Match" in [p["name"] for p in product["parameters"]]
    assert set(product["responses"]["304"]["headers"]) == {"ETag"}
    ok = product["responses"]["200"]["headers"]
    assert {"ETag", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(ok)
    limited = product["responses"]["429"]["headers"]
    assert "Retry-After" in limited and "Retry-After" not in ok
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert "WWW-Authenticate" in login["responses"]["401"]["headers"]
    assert "415" in login["responses"]

"""CORS: only the configured origins, only under /api/, nothing at all by default."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_config
from tests.accounts.helpers import make_user
from tests.api.helpers import bearer, tokens

ALLOWED = "https://app.example.com"


@pytest.fixture
def cors_client(make_app, db):
    app = make_app(API_CORS_ORIGINS=[ALLOWED, "http://localhost:8100"])
    return app.test_client()


def test_no_cors_headers_by_default(client, db):
    response = client.get("/api/v1/categories", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/api/v1/me",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_allowed_origin_gets_the_headers_and_exposed_names(cors_client):
    response = cors_client.get("/api/v1/categories", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in response.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in response.headers  # tokens, not cookies
    exposed = {
        h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {
        "etag",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
        "x-request-id",
    } <= exposed


def test_error_responses_carry_cors_headers_too(cors_client):
    response = cors_client.get("/api/v1/me", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_preflight_allows_authorization_and_json(cors_client):
    response = cors_client.options(
        "/api/v1/me/addresses",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_preflight_is_not_counted_against_the_rate_limit(make_app, db):
    client = make_app(API_CORS_ORIGINS=[ALLOWED], API_RATELIMIT="2 per minute").test_client()
    for _ in range(5):
        preflight = client.options(
            "/api/v1/categories",
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 200
    assert client.get("/api/v1/categories").status_code == 200


def test_other_origins_get_no_allow_origin(cors_client):
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        response = cors_client.get("/api/v1/categories", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers, origin
        preflight = cors_client.options(
            "/api/v1/me",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers, origin


def test_web_pages_never_get_cors_headers(cors_client):
    response = cors_client.get("/healthz", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_allowed_origin_can_use_a_token(cors_client, db):
    make_user()
    pair = tokens(cors_client)
    response = cors_client.get(
        "/api/v1/me", headers={"Origin": ALLOWED, **bearer(pair["access_token"])}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("value", ["*", "https://*.example.com", "https://app.example.com/path"])
def test_origins_must_be_plain_origins(value):
    with pytest.raises(ConfigError, match="API_CORS_ORIGINS"):
        load_config({"API_CORS_ORIGINS": value})


def test_origins_are_read_from_the_environment():
    cfg = load_config({"API_CORS_ORIGINS": " https://App.example.com/ , http://localhost:8100"})
    assert cfg["API_CORS_ORIGINS"] == ["https://app.example.com", "http://localhost:8100"]
    assert load_config({})["API_CORS_ORIGINS"] == []


def test_a_browser_guest_can_send_and_read_its_cart_token(cors_client, db):
    preflight = cors_client.options(
        "/api/v1/cart/items",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-cart-token",
        },
    )
    assert preflight.status_code == 200
    assert "x-cart-token" in preflight.headers["Access-Control-Allow-Headers"].lower()
    created = cors_client.post("/api/v1/cart", headers={"Origin": ALLOWED})
    assert created.headers.get("X-Cart-Token")
    assert "x-cart-token" in created.headers["Access-Control-Expose-Headers"].lower()

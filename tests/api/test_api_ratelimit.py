"""API rate limits: per token (or IP), a per-IP ceiling, IETF RateLimit headers, 429 problems.

Small limits come from the config of a test app; the counters are the limiter's storage
(Redis when REDIS_URL is set), reset after each test by the conftest.
"""

from __future__ import annotations

from tests.accounts.helpers import PASSWORD, make_user
from tests.api.helpers import bearer


def limited_client(make_app, **limits):
    return make_app(**limits).test_client()


def token_from(client, ip: str, email: str = "ada@example.com") -> dict[str, str]:
    """Sign in from another address, so the login does not use up the quota under test."""
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 200, response.get_json()
    return bearer(response.get_json()["access_token"])


def test_headers_use_the_ietf_draft_names(client, db):
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    assert response.headers["RateLimit-Limit"] == "120"
    assert response.headers["RateLimit-Remaining"] == "119"
    assert 0 < int(response.headers["RateLimit-Reset"]) <= 60  # seconds, not a timestamp
    assert response.headers["RateLimit-Policy"] == "120;w=60, 600;w=60"
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"):
        assert name not in response.headers, name


def test_web_pages_keep_their_headers(client, db):
    response = client.get("/__test/limited")
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert "RateLimit-Limit" not in response.headers


def test_anonymous_requests_are_limited_per_ip_with_a_429_problem(make_app, db):
    client = limited_client(make_app, API_RATELIMIT="3 per minute")
    statuses = [client.get("/api/v1/categories").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.get("/api/v1/products")  # one quota for the whole API
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "too-many-requests" and body["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Limit"] == "3"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
    # Another address has its own quota.
    other = client.get("/api/v1/categories", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


def test_signed_in_requests_are_limited_per_user_not_per_ip(make_app, db):
    client = limited_client(make_app, API_RATELIMIT="3 per minute")
    make_user()
    make_user("bob@example.com", name="Bob")
    ada = token_from(client, "192.0.2.1")
    bob = token_from(client, "192.0.2.2", "bob@example.com")
    assert [client.get("/api/v1/me", headers=ada).status_code for _ in range(3)] == [200] * 3
    assert client.get("/api/v1/me", headers=ada).status_code == 429
    # Same IP, different user: a quota of their own; and anonymous calls from the same IP too.
    assert client.get("/api/v1/me", headers=bob).status_code == 200
    assert client.get("/api/v1/categories").status_code == 200
    # Ada's quota follows her token to another address.
    moved = client.get("/api/v1/me", headers=ada, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert moved.status_code == 429


def test_a_forged_token_counts_against_the_ip(make_app, db):
    client = limited_client(make_app, API_RATELIMIT="2 per minute")
    forged = bearer("not-a-real-token")
    assert [client.get("/api/v1/me", headers=forged).status_code for _ in range(2)] == [401, 401]
    assert client.get("/api/v1/categories").status_code == 429


def test_per_ip_ceiling_applies_to_signed_in_requests(make_app, db):
    client = limited_client(
        make_app, API_RATELIMIT="100 per minute", API_RATELIMIT_PER_IP="4 per minute"
    )
    for email in ("ada@example.com", "bob@example.com", "cy@example.com"):
        make_user(email, name=email.split("@")[0])
    users = [
        token_from(client, "192.0.2.50", email)
        for email in ("ada@example.com", "bob@example.com", "cy@example.com")
    ]
    statuses = [client.get("/api/v1/me", headers=users[i % 3]).status_code for i in range(4)]
    assert statuses == [200] * 4
    response = client.get("/api/v1/me", headers=users[1])  # a fresh user, the same IP
    assert response.status_code == 429
    assert response.get_json()["code"] == "too-many-requests"
    assert response.headers["RateLimit-Limit"] == "4"  # the quota that ran out
    assert response.headers["RateLimit-Remaining"] == "0"
    # The ceiling is per IP: the same user from another address is fine.
    elsewhere = client.get(
        "/api/v1/me", headers=users[1], environ_base={"REMOTE_ADDR": "192.0.2.99"}
    )
    assert elsewhere.status_code == 200


def test_headers_report_the_quota_closest_to_running_out(make_app, db):
    client = limited_client(
        make_app, API_RATELIMIT="50 per minute", API_RATELIMIT_PER_IP="5 per minute"
    )
    make_user()
    ada = token_from(client, "192.0.2.1")
    for _ in range(2):
        client.get("/api/v1/categories")  # anonymous calls from Ada's IP use up its ceiling
    response = client.get("/api/v1/me", headers=ada)
    assert response.headers["RateLimit-Limit"] == "5"
    assert response.headers["RateLimit-Remaining"] == "2"
    assert response.headers["RateLimit-Policy"] == "50;w=60, 5;w=60"


def test_refresh_is_limited_per_sign_in_not_per_address(client, db):
    """Phones behind one carrier address each refresh; one sign-in cannot hammer refresh."""
    from app.api.tokens import issue_tokens

    carrier = {"REMOTE_ADDR": "100.64.0.1"}
    pairs = [issue_tokens(make_user(f"phone{i}@example.com", name=f"Phone {i}")) for i in range(15)]
    statuses = [
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": p.refresh_token}, environ_base=carrier
        ).status_code
        for p in pairs
    ]
    assert statuses == [200] * 15
    # Logging out is per sign-in too.
    assert (
        client.post(
            "/api/v1/auth/logout",
            json={"refresh_token": pairs[0].refresh_token},
            environ_base=carrier,
        ).status_code
        == 204
    )

    # One sign-in refreshing over and over is stopped, whatever address it comes from.
    token = issue_tokens(make_user("busy@example.com", name="Busy")).refresh_token
    for i in range(10):
        response = client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": token},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        )
        assert response.status_code == 200, (i, response.get_json())
        token = response.get_json()["refresh_token"]
    response = client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": token},
        environ_base={"REMOTE_ADDR": "1.2.3.4"},
    )
    assert response.status_code == 429 and response.get_json()["code"] == "too-many-requests"
    # Sign-in stays strict per address.
    statuses = [
        client.post(
            "/api/v1/auth/login",
            json={"email": f"nobody{i}@example.com", "password": "not it"},
            environ_base=carrier,
        ).status_code
        for i in range(11)
    ]
    assert statuses == [401] * 10 + [429]

import re

import pytest

PAGES = ["/", "/nope", "/api/v1/nope", "/api/v1/", "/healthz", "/metrics", "/static/css/shop.css"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_security_headers(client, path):
    with client.get(path) as response:
        pass
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    # HSTS only where TLS is guaranteed (production).
    assert "Strict-Transport-Security" not in response.headers


def test_server_errors_carry_security_headers(client):
    response = client.get("/__test/boom")
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_production_adds_hsts_and_secure_cookies(make_app):
    app = make_app(HSTS_ENABLED=True, SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/__test/session")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_httponly_and_lax(client):
    cookie = client.get("/__test/session").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_have_no_inline_scripts_or_styles(client):
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html and "<script " not in html.replace("<script src=", "")
    assert " style=" not in html and "<style" not in html
    assert 'name="htmx-config"' in html and '"includeIndicatorStyles": false' in html


def test_htmx_sends_csrf_token_in_a_header(client):
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[\w.-]+"\}\'>', html)


def test_request_body_size_is_limited(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert client.post("/__test/upload", data=b"x" * 10).get_data(as_text=True) == "10"
    response = client.post("/__test/upload", data=b"x" * (limit + 1))
    assert response.status_code == 413
    assert "larger than we accept" in response.get_data(as_text=True)


def test_pages_and_their_htmx_fragments_are_cached_apart(client, db):
    page = client.get("/products")
    assert "HX-Request" in page.headers.get("Vary", "")
    fragment = client.get("/products", headers={"HX-Request": "true", "HX-Target": "results"})
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert fragment.headers["Cache-Control"] == "no-store"  # Back never shows a bare fragment


def test_pages_carry_one_date_and_no_retry_after_unless_refused(client, db):
    """Retry-After only on a 429/503; the WSGI server writes the one Date header."""
    from app.db import commit_unit_of_work
    from tests.catalog import factories

    factories.product("Oxford Shirt", price=4500)
    commit_unit_of_work()
    for path in ("/", "/products", "/products/oxford-shirt", "/api/v1/products"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Retry-After" not in response.headers, path
        assert "Date" not in response.headers, path  # the server adds the one Date
        revalidated = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert revalidated.status_code == 304, path
        assert "Date" not in revalidated.headers, path  # make_conditional's is dropped too

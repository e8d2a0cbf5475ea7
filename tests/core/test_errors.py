import logging
import re

import pytest


def test_unknown_page_renders_the_404_page(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Not found" in html and "Go to the home page" in html
    assert response.headers["X-Request-ID"] in html  # reference for support


def test_unknown_api_path_is_problem_json(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/api/v1/nope"


def test_wrong_method_is_405_with_allow_header(client):
    response = client.post("/healthz")
    # CSRF runs first for unknown POSTs on the web; the API answers 405 problem+json.
    assert response.status_code in {400, 405}
    api = client.delete("/api/v1/")
    assert api.status_code == 405
    assert api.mimetype == "application/problem+json"
    assert "GET" in api.headers["Allow"]


def test_unhandled_error_is_a_generic_500_and_logged_with_request_id(client, caplog):
    caplog.set_level(logging.ERROR)
    response = client.get("/__test/boom", headers={"X-Request-ID": "trace-abcdef123"})
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    for leak in ("secret-detail", "hunter2", "Traceback", "RuntimeError", "SELECT"):
        assert leak not in html
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert records and all(getattr(r, "request_id", None) == "trace-abcdef123" for r in records)
    assert any(r.exc_info for r in records)


@pytest.mark.parametrize("path", ["/__test/form"])
def test_post_without_csrf_token_is_refused_with_a_clear_message(client, path):
    response = client.post(path, data={"x": "1"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_post_with_csrf_token_in_htmx_header_is_accepted(client):
    html = client.get("/cart").get_data(as_text=True)
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html).group(1)
    response = client.post("/__test/form", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "accepted"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/products?q=a%00b", {}),
        ("post", "/account/login", {"data": {"email": "a\x00b@example.com", "password": "x"}}),
        (
            "post",
            "/api/v1/auth/login",
            {
                "data": '{"email": "a\\u0000b@example.com", "password": "x"}',
                "content_type": "application/json",
            },
        ),
    ],
)
def test_nul_characters_are_refused_with_400_not_a_database_error(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 400
    # A web form post without its CSRF token is refused by that check first.
    text = response.get_data(as_text=True)
    assert "NUL characters" in text or "security token" in text


def test_the_text_percent_zero_zero_is_not_a_nul(client, db):
    """Only decoded NULs are refused: a password or a search containing "%00" is text."""
    from tests.accounts.helpers import csrf_token, make_user

    make_user("percent@example.com", password="battery staple 100%00")
    assert client.get("/products?q=100%2500").status_code == 200
    response = client.post(
        "/account/login",
        data={
            "email": "percent@example.com",
            "password": "battery staple 100%00",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    api = client.post(
        "/api/v1/auth/login",
        json={"email": "percent@example.com", "password": "battery staple 100%00"},
    )
    assert api.status_code == 200


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/products?q%00=a", {}),
        ("/__test/upload", {"data": {"name": "a\x00b"}, "content_type": "multipart/form-data"}),
        ("/api/v1/auth/login", {"json": {"email": ["x", {"deep": "a\x00b"}], "password": "x"}}),
        ("/api/v1/auth/login", {"json": {"a\x00b": 1}}),
    ],
)
def test_nul_in_keys_and_nested_values_is_refused(client, path, kwargs):
    method = client.get if "?" in path else client.post
    assert method(path, **kwargs).status_code == 400

"""``permission_required``: 404 for non-staff, TOTP enrolment, a second factor in this
session, then the named permission (403)."""

from __future__ import annotations

import pyotp
import pytest

from app.accounts.permissions import permission_required
from app.db import utcnow
from tests.accounts.helpers import csrf_token, login, make_user

REFUNDS = "/__staff-only"
ORDERS = "/__orders-view"


@pytest.fixture
def gated_app(make_app, db):
    """A fresh app (routes can only be added before its first request) with two staff pages."""
    shop = make_app()

    @shop.get(REFUNDS)
    @permission_required("refunds.issue")
    def staff_only():
        return "refunds"

    @shop.get(ORDERS)
    @permission_required("orders.view")
    def orders_view():
        return "orders"

    return shop


def enable_totp(db, user) -> str:
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    db.session.flush()
    return secret


def sign_in_with_totp(client, email: str, secret: str) -> None:
    first = login(client, email)
    assert first.headers["Location"] == "/account/login/two-factor"
    second = client.post(
        "/account/login/two-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(client)},
    )
    assert second.status_code == 302, second.get_data(as_text=True)


def test_anonymous_visitors_get_404(gated_app):
    client = gated_app.test_client()
    assert client.get(REFUNDS).status_code == 404
    assert client.get(ORDERS).status_code == 404


def test_customers_get_404_even_with_two_factor(gated_app, db):
    user = make_user("cora@example.com")
    secret = enable_totp(db, user)
    client = gated_app.test_client()
    sign_in_with_totp(client, "cora@example.com", secret)
    assert client.get("/account").status_code == 200  # signed in for real
    assert client.get(REFUNDS).status_code == 404
    assert client.get(ORDERS).status_code == 404


def test_staff_without_totp_are_sent_to_enrol(gated_app, db):
    make_user("sam@example.com", role="staff")
    client = gated_app.test_client()
    assert login(client, "sam@example.com").headers["Location"] == "/account/two-factor"
    for path in (REFUNDS, ORDERS):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/two-factor"


def test_staff_with_totp_but_no_second_factor_in_this_session_are_sent_to_sign_in(gated_app, db):
    user = make_user("sam@example.com", role="staff")
    client = gated_app.test_client()
    login(client, "sam@example.com")  # a session without a second factor
    enable_totp(db, user)  # e.g. enrolled on another device since
    response = client.get(ORDERS)
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"


def test_staff_with_a_second_factor_have_staff_permissions_only(gated_app, db):
    user = make_user("sam@example.com", role="staff")
    secret = enable_totp(db, user)
    client = gated_app.test_client()
    sign_in_with_totp(client, "sam@example.com", secret)
    orders = client.get(ORDERS)
    assert orders.status_code == 200 and orders.get_data(as_text=True) == "orders"
    assert client.get(REFUNDS).status_code == 403  # the staff role cannot issue refunds


def test_admins_with_a_second_factor_reach_everything(gated_app, db):
    user = make_user("ada@example.com", role="admin")
    secret = enable_totp(db, user)
    client = gated_app.test_client()
    sign_in_with_totp(client, "ada@example.com", secret)
    assert client.get(ORDERS).get_data(as_text=True) == "orders"
    refunds = client.get(REFUNDS)
    assert refunds.status_code == 200 and refunds.get_data(as_text=True) == "refunds"


def test_unknown_permissions_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown permission"):
        permission_required("refunds.everything")

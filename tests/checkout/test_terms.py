"""Paying needs the shopper's acceptance of the shop's terms, at both doors: the checkout
service refuses without it (nothing placed, nothing sent to the provider) and the order
records when it was given."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.orders.models import Order
from tests.api.helpers import add_item, guest
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, submit_details, token

SHIPPING = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
}


@pytest.fixture
def mug(db):
    variant = factories.product("Stoneware Mug", price=1500, stock=10).variants[0]
    commit_unit_of_work()
    return variant


def _orders():
    _db.session.expire_all()
    return _db.session.execute(sa.select(Order)).scalars().all()


def test_the_review_page_asks_for_the_terms_with_links(client, mug):
    add_to_cart(client, mug.id)
    submit_details(client)
    html = client.get("/checkout/review").get_data(as_text=True)
    assert re.search(r'<input id="accept_terms" name="accept_terms" type="checkbox"', html)
    assert '<label for="accept_terms">' in html
    assert 'href="/pages/terms"' in html and 'href="/pages/returns"' in html
    assert 'href="/pages/privacy"' in html


def test_pay_without_the_terms_stays_on_the_review_with_the_error(client, mug):
    add_to_cart(client, mug.id)
    submit_details(client)
    response = client.post("/checkout/pay", data={"csrf_token": token(client, "/checkout/review")})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>Error: Review your order" in html
    summary = html.split('class="error-summary"')[1].split("</div>")[0]
    assert (
        '<a href="#accept_terms">' in summary
        and "Accept the terms and conditions to pay." in summary
    )
    assert (
        'aria-invalid="true"'
        in html.split('id="accept_terms"')[0][-300:] + html.split('id="accept_terms"')[1][:200]
    )
    assert _orders() == []  # nothing placed, nothing reserved, nothing sent

    response = client.post(
        "/checkout/pay",
        data={"csrf_token": token(client, "/checkout/review"), "accept_terms": "y"},
    )
    assert response.status_code == 303
    (order,) = _orders()
    assert order.terms_accepted_at is not None


def test_the_api_refuses_a_session_without_accept_terms_and_says_where_they_are(app, mug):
    api = app.test_client()
    cart = add_item(api, mug.id, 1).get_json()["cart_token"]
    body = {"email": "ada@example.com", "shipping_address": SHIPPING, "shipping_method": "standard"}
    summary = api.put("/api/v1/checkout/details", json=body, headers=guest(cart)).get_json()
    assert summary["terms_url"] == "http://localhost/pages/terms"
    assert summary["returns_url"].endswith("/pages/returns")
    assert summary["privacy_url"].endswith("/pages/privacy")

    for sent in ({"accept_terms": False}, {}, {"accept_terms": "yes"}):
        response = api.post("/api/v1/checkout/session", json=sent, headers=guest(cart))
        assert response.status_code == 422, sent
        assert "accept_terms" in response.get_json()["errors"]
    assert api.post("/api/v1/checkout/session", headers=guest(cart)).status_code == 400
    assert _orders() == []

    response = api.post(
        "/api/v1/checkout/session", json={"accept_terms": True}, headers=guest(cart)
    )
    assert response.status_code == 201
    (order,) = _orders()
    assert order.terms_accepted_at is not None
    errors = {"accept_terms": False}
    refused = api.post("/api/v1/checkout/session", json=errors, headers=guest(cart)).get_json()
    assert refused["errors"]["accept_terms"] == ["Accept the terms and conditions to pay."]

"""IDOR matrix: every cart, checkout and order endpoint refuses another shopper's ids with the
same 404 as ids that never existed, and changes nothing of theirs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Address
from app.cart.models import CartLine, SavedItem
from app.db import commit_unit_of_work
from app.orders.models import Order
from tests.accounts.helpers import make_user
from tests.api.helpers import (
    add_item,
    bearer,
    guest,
    pay_in_sandbox,
    set_details,
    start_session,
    tokens,
)
from tests.catalog import factories


def snapshot(db) -> dict:
    db.session.expire_all()
    return {
        "lines": sorted(
            db.session.execute(sa.select(CartLine.id, CartLine.cart_id, CartLine.quantity)).all()
        ),
        "saved": sorted(
            db.session.execute(sa.select(SavedItem.id, SavedItem.user_id, SavedItem.cart_id)).all()
        ),
        "orders": sorted(db.session.execute(sa.select(Order.number, Order.status)).all()),
    }


@pytest.fixture
def world(client, db):
    """Ada (signed in) with a cart line, a saved item, a paid and a pending order and an
    address; a guest with a cart and a pending order; Bob, signed in, with his own cart."""
    mug = factories.product("Stoneware Mug", price=1500, stock=50).variants[0]
    lamp = factories.product("Oak Lamp", price=12000, stock=50).variants[0]
    ada = make_user()
    make_user("bob@example.com", name="Bob")
    address = Address(user_id=ada.id, full_name="Ada", line1="1 Lane", city="Dublin", country="IE")
    db.session.add(address)
    commit_unit_of_work()
    a = bearer(tokens(client)["access_token"])
    b = bearer(tokens(client, "bob@example.com")["access_token"])

    add_item(client, mug.id, 1, a)
    set_details(client, a)
    session = start_session(client, a)
    pay_in_sandbox(client, session["checkout_url"])
    paid_number = session["order_number"]
    add_item(client, mug.id, 2, a)
    body = add_item(client, lamp.id, 1, a).get_json()
    line_id = body["lines"][0]["id"]
    saved_line = body["lines"][1]["id"]
    saved = client.post(f"/api/v1/cart/items/{saved_line}/save-for-later", headers=a)
    saved_id = saved.get_json()["saved"][0]["id"]
    pending_number = start_session(client, a)["order_number"]

    token = add_item(client, lamp.id, 1).get_json()["cart_token"]
    guest_line = client.get("/api/v1/cart", headers=guest(token)).get_json()["lines"][0]["id"]
    set_details(client, guest(token), email="guest@example.com")
    guest_order = start_session(client, guest(token))["order_number"]

    add_item(client, lamp.id, 1, b)
    return {
        "a": a,
        "b": b,
        "line": line_id,
        "saved": saved_id,
        "paid": paid_number,
        "pending": pending_number,
        "address": address.id,
        "guest_token": token,
        "guest_line": guest_line,
        "guest_order": guest_order,
        "mug": mug,
    }


def object_requests(w: dict) -> list[tuple[str, str, dict | None]]:
    return [
        ("PATCH", f"/api/v1/cart/items/{w['line']}", {"quantity": 5}),
        ("DELETE", f"/api/v1/cart/items/{w['line']}", None),
        ("POST", f"/api/v1/cart/items/{w['line']}/save-for-later", None),
        ("PATCH", f"/api/v1/cart/items/{w['guest_line']}", {"quantity": 5}),
        ("DELETE", f"/api/v1/cart/items/{w['guest_line']}", None),
        ("POST", f"/api/v1/cart/items/{w['guest_line']}/save-for-later", None),
        ("POST", f"/api/v1/cart/saved/{w['saved']}/move-to-cart", None),
        ("DELETE", f"/api/v1/cart/saved/{w['saved']}", None),
        ("GET", f"/api/v1/orders/{w['paid']}", None),
        ("GET", f"/api/v1/orders/{w['paid']}/status", None),
        ("POST", f"/api/v1/orders/{w['paid']}/cancel", None),
        ("GET", f"/api/v1/orders/{w['pending']}", None),
        ("GET", f"/api/v1/orders/{w['pending']}/status", None),
        ("POST", f"/api/v1/orders/{w['pending']}/cancel", None),
        ("GET", f"/api/v1/orders/{w['guest_order']}", None),
        ("GET", f"/api/v1/orders/{w['guest_order']}/status", None),
        ("POST", f"/api/v1/orders/{w['guest_order']}/cancel", None),
    ]


def test_the_setup_is_what_the_matrix_assumes(client, db, world):
    """Each id works for its owner, so the 404s below are about ownership."""
    a, token = world["a"], world["guest_token"]
    assert client.get(f"/api/v1/orders/{world['paid']}", headers=a).get_json()["status"] == "paid"
    assert client.get(f"/api/v1/orders/{world['pending']}/status", headers=a).status_code == 200
    status = client.get(f"/api/v1/orders/{world['guest_order']}/status", headers=guest(token))
    assert status.status_code == 200
    cart = client.get("/api/v1/cart", headers=a).get_json()
    assert [ln["id"] for ln in cart["lines"]] == [world["line"]]
    assert [s["id"] for s in cart["saved"]] == [world["saved"]]


@pytest.mark.parametrize("who", ["bob", "another guest", "no credentials"])
def test_other_shoppers_get_404_and_nothing_changes(client, db, world, who):
    if who == "bob":
        headers = world["b"]
    elif who == "another guest":
        headers = guest(add_item(client, world["mug"].id, 1).get_json()["cart_token"])
    else:
        headers = {}
    before = snapshot(db)
    for method, url, body in object_requests(world):
        kwargs = {"json": body} if body is not None else {}
        response = client.open(url, method=method, headers=headers, **kwargs)
        # Order detail and cancel are for signed-in users only: without a bearer token the
        # answer is 401 before any lookup, so it tells nobody whether the order exists.
        signed_in_only = "/orders/" in url and not url.endswith("/status")
        expected = 401 if signed_in_only and who != "bob" else 404
        assert response.status_code == expected, (who, method, url, response.get_json())
        assert response.mimetype == "application/problem+json"
    assert snapshot(db) == before


def test_a_foreign_404_looks_like_a_missing_one(client, db, world):
    b = world["b"]
    foreign = client.get(f"/api/v1/orders/{world['paid']}", headers=b).get_json()
    missing = client.get("/api/v1/orders/SS-0000-0000", headers=b).get_json()
    assert {k: v for k, v in foreign.items() if k != "instance"} == {
        k: v for k, v in missing.items() if k != "instance"
    }
    foreign_line = client.delete(f"/api/v1/cart/items/{world['line']}", headers=b).get_json()
    missing_line = client.delete("/api/v1/cart/items/2147483647", headers=b).get_json()
    assert foreign_line["detail"] == missing_line["detail"]


def test_signed_in_user_sending_a_guest_token_still_gets_only_their_cart(client, db, world):
    headers = {**world["b"], "X-Cart-Token": world["guest_token"]}
    before = snapshot(db)
    response = client.delete(f"/api/v1/cart/items/{world['guest_line']}", headers=headers)
    assert response.status_code == 404
    status = client.get(f"/api/v1/orders/{world['guest_order']}/status", headers=headers)
    assert status.status_code == 404
    assert snapshot(db) == before


def test_checkout_never_reaches_another_users_address_or_order(client, db, world):
    b = world["b"]
    before = snapshot(db)
    response = client.put(
        "/api/v1/checkout/details",
        json={"shipping_address_id": world["address"], "shipping_method": "standard"},
        headers=b,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "shipping_address_id": ["There is no such address in your address book."]
    }
    assert snapshot(db) == before
    # Bob's own checkout makes his own order and leaves Ada's unpaid one alone.
    set_details(client, b)
    number = start_session(client, b)["order_number"]
    after = dict(snapshot(db)["orders"])
    assert after[world["pending"]] == "pending_payment"
    assert number not in (world["pending"], world["paid"], world["guest_order"])

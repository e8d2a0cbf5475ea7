"""Checkout API: details validated as the website's form, the server's quote, the Checkout
Session (idempotent on retry), guests, payment through the sandbox, provider outages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Address
from app.catalog.models import Variant
from app.db import commit_unit_of_work
from app.inventory.services import adjust_stock
from app.orders.models import Order, OrderStatus
from app.payments.models import Payment, SandboxSession
from app.payments.types import PaymentsUnavailable
from tests.accounts.helpers import PASSWORD, make_user
from tests.api.helpers import (
    SHIPPING_ADDRESS,
    TERMS,
    add_item,
    bearer,
    guest,
    pay_in_sandbox,
    set_details,
    start_session,
    tokens,
)
from tests.catalog import factories


@pytest.fixture
def mug(db):
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    commit_unit_of_work()
    return variant


@pytest.fixture
def ada(client, db):
    make_user()
    return bearer(tokens(client)["access_token"])


def stock(db, variant_id: int) -> tuple[int, int]:
    db.session.expire_all()
    variant = db.session.get(Variant, variant_id)
    return variant.stock_on_hand, variant.reserved


def orders(db) -> list[Order]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(Order).order_by(Order.id)).scalars())


def test_details_then_summary_with_the_servers_totals(client, db, ada, mug):
    add_item(client, mug.id, 2, ada)
    response = set_details(client, ada, total=1, subtotal=1, price=1)  # ignored
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["email"] == "ada@example.com"  # the account's address by default
    assert body["shipping_address"]["city"] == "Dublin"
    assert body["billing_address"] == body["shipping_address"]
    assert (body["subtotal"], body["shipping"], body["total"]) == (3000, 495, 3495)
    assert body["shipping_method_name"] == "Standard delivery"
    assert [(ln["sku"], ln["quantity"], ln["line_total"]) for ln in body["lines"]] == [
        (mug.sku, 2, 3000)
    ]
    summary = client.get("/api/v1/checkout/summary", headers=ada)
    assert summary.status_code == 200 and summary.get_json() == body
    # The summary follows the cart.
    add_item(client, mug.id, 2, ada)
    again = client.get("/api/v1/checkout/summary", headers=ada).get_json()
    assert (again["subtotal"], again["shipping"], again["total"]) == (6000, 0, 6000)


def test_shipping_methods_are_priced_for_the_cart(client, db, ada, mug):
    add_item(client, mug.id, 1, ada)
    body = client.get("/api/v1/checkout/shipping-methods?country=ie", headers=ada).get_json()
    assert body["country"] == "IE"
    costs = {m["code"]: m["cost"] for m in body["items"]}
    assert costs == {"standard": 495, "express": 1295}
    bad = client.get("/api/v1/checkout/shipping-methods?country=XX", headers=ada)
    assert bad.status_code == 422 and bad.get_json()["errors"] == {
        "country": ["Not a valid choice."]
    }


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"shipping_address": None}, {"shipping_address": ["This field is required."]}),
        (
            {"shipping_address": {**SHIPPING_ADDRESS, "country": "XX"}},
            {"shipping_address.country": ["Choose a country from the list."]},
        ),
        (
            {"billing_same_as_shipping": False},
            {"billing_address": ["Enter the billing address, or choose “same as shipping”."]},
        ),
        (
            {"shipping_method": "teleport"},
            {"shipping_method": ["We do not deliver there with that option."]},
        ),
        (
            {"shipping_address_id": 4676412878},
            {"shipping_address_id": ["Input should be less than or equal to 2147483647"]},
        ),
        (
            {"shipping_address": None, "shipping_address_id": 12345},
            {"shipping_address_id": ["There is no such address in your address book."]},
        ),
    ],
)
def test_details_are_checked_as_on_the_website(client, db, ada, mug, overrides, errors):
    add_item(client, mug.id, 1, ada)
    response = set_details(client, ada, **overrides)
    assert response.status_code == 422
    assert response.get_json()["errors"] == errors
    missing = client.get("/api/v1/checkout/summary", headers=ada)
    assert missing.status_code == 409 and missing.get_json()["code"] == "checkout-details-missing"


def test_address_fields_have_the_address_books_limits_and_rules(client, db, ada, mug):
    add_item(client, mug.id, 1, ada)
    long = {**SHIPPING_ADDRESS, "full_name": "x" * 121}
    errors = set_details(client, ada, shipping_address=long).get_json()["errors"]
    assert set(errors) == {"shipping_address.full_name"}  # the schema's limit
    blank = {**SHIPPING_ADDRESS, "city": "  ", "country": "GB", "postal_code": "12345"}
    errors = set_details(client, ada, shipping_address=blank).get_json()["errors"]
    assert errors == {
        "shipping_address.city": ["Enter the town or city."],
        "shipping_address.postal_code": [
            "Enter a valid postcode for United Kingdom, for example SW1A 1AA."
        ],
    }
    us = {**SHIPPING_ADDRESS, "country": "US", "postal_code": "94105"}
    errors = set_details(client, ada, shipping_address=us).get_json()["errors"]
    assert errors == {"shipping_address.region": ["Enter the state."]}
    gb = {**SHIPPING_ADDRESS, "country": "GB", "postal_code": "sw1a1aa", "phone": "07400 123456"}
    body = set_details(client, ada, shipping_address=gb).get_json()
    assert body["shipping_address"]["postal_code"] == "SW1A 1AA"  # as the address book stores it
    assert body["shipping_address"]["phone"] == "+447400123456"


def test_an_address_from_the_address_book(client, db, ada, mug):
    user_id = db.session.execute(sa.text("SELECT id FROM users")).scalar_one()
    address = Address(
        user_id=user_id,
        full_name="Ada King",
        line1="1 Ockham Park",
        city="Ripley",
        postal_code="GU23 6AZ",
        country="GB",
    )
    db.session.add(address)
    db.session.flush()
    add_item(client, mug.id, 1, ada)
    body = set_details(client, ada, shipping_address=None, shipping_address_id=address.id)
    assert body.status_code == 200, body.get_json()
    assert body.get_json()["shipping_address"]["line1"] == "1 Ockham Park"
    assert body.get_json()["shipping_address"]["country"] == "GB"


def test_guests_check_out_with_an_email(client, db, mug):
    token = add_item(client, mug.id, 1).get_json()["cart_token"]
    response = set_details(client, guest(token))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"email": ["Enter your email address."]}
    bad = set_details(client, guest(token), email="not an email")
    assert "email" in bad.get_json()["errors"]
    ok = set_details(client, guest(token), email="Grace@Example.com")
    assert ok.status_code == 200 and ok.get_json()["email"] == "grace@example.com"
    session = start_session(client, guest(token))
    [order] = orders(db)
    assert order.user_id is None and order.email == "grace@example.com"
    assert order.number == session["order_number"]

    pay_in_sandbox(client, session["checkout_url"])
    status = client.get(f"/api/v1/orders/{order.number}/status", headers=guest(token))
    assert status.status_code == 200
    assert status.get_json()["paid"] is True and status.get_json()["status"] == "paid"
    # Without the cart token nobody sees the guest order.
    assert client.get(f"/api/v1/orders/{order.number}/status").status_code == 404


def test_empty_or_blocked_carts_cannot_check_out(client, db, ada, mug):
    empty = set_details(client, ada)
    assert empty.status_code == 409 and empty.get_json()["code"] == "cart-empty"
    assert (
        client.post("/api/v1/checkout/session", json=TERMS, headers=ada).get_json()["code"]
        == "cart-empty"
    )
    add_item(client, mug.id, 3, ada)
    assert set_details(client, ada).status_code == 200
    adjust_stock(mug.id, -4)
    commit_unit_of_work()
    blocked = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert blocked.status_code == 409 and blocked.get_json()["code"] == "cart-needs-attention"
    assert orders(db) == []


def test_session_places_the_order_and_a_retry_gets_the_same_one(client, db, ada, mug):
    add_item(client, mug.id, 2, ada)
    set_details(client, ada)
    first = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert first.status_code == 201
    body = first.get_json()
    assert body["status"] == "pending_payment" and body["reused"] is False
    assert "/sandbox/checkout/cs_sandbox_" in body["checkout_url"]
    assert stock(db, mug.id) == (5, 2)

    retry = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert retry.status_code == 200
    assert retry.get_json() == {**body, "reused": True}
    [order] = orders(db)
    assert order.total == 3495 and len(order.payments) == 1
    assert stock(db, mug.id) == (5, 2)  # reserved once


def test_a_changed_cart_replaces_the_unpaid_order(client, db, ada, mug):
    add_item(client, mug.id, 2, ada)
    set_details(client, ada)
    old = start_session(client, ada)
    add_item(client, mug.id, 1, ada)
    new = start_session(client, ada)
    assert new["order_number"] != old["order_number"] and new["reused"] is False
    first, second = orders(db)
    assert first.status == OrderStatus.CANCELLED and second.status == OrderStatus.PENDING_PAYMENT
    assert second.total == 4500 + 495
    assert stock(db, mug.id) == (5, 3)  # the old reservation was released
    old_session = db.session.get(SandboxSession, first.payments[0].session_id)
    assert old_session.status == "expired" and first.payments[0].status == "expired"
    # The old tab cannot pay any more.
    from tests.checkout.helpers import sandbox_action

    assert sandbox_action(client, old["checkout_url"], "pay").status_code == 404


def test_provider_outage_keeps_the_order_and_a_retry_reuses_it(client, db, ada, mug, monkeypatch):
    from app.payments import sandbox

    add_item(client, mug.id, 1, ada)
    set_details(client, ada)
    real = sandbox.create_checkout_session

    def down(**kwargs):
        raise PaymentsUnavailable()

    monkeypatch.setattr(sandbox, "create_checkout_session", down)
    response = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert response.status_code == 503
    assert response.get_json()["code"] == "payments-unavailable"
    assert response.headers["Retry-After"] == "30"  # as documented, not the limiter's window
    [order] = orders(db)
    assert order.status == OrderStatus.PENDING_PAYMENT and order.payments == []

    monkeypatch.setattr(sandbox, "create_checkout_session", real)
    retry = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert retry.status_code == 201
    assert retry.get_json()["order_number"] == order.number
    assert len(orders(db)) == 1 and stock(db, mug.id) == (5, 1)


def test_pay_and_poll_until_paid(client, db, ada, mug):
    add_item(client, mug.id, 2, ada)
    set_details(client, ada)
    session = start_session(client, ada)
    url = f"/api/v1/orders/{session['order_number']}/status"
    before = client.get(url, headers=ada).get_json()
    assert (before["status"], before["paid"], before["payment_status"]) == (
        "pending_payment",
        False,
        "pending",
    )
    pay_in_sandbox(client, session["checkout_url"])
    after = client.get(url, headers=ada).get_json()
    assert (after["status"], after["paid"], after["payment_status"]) == ("paid", True, "succeeded")
    assert after["total"] == 3495
    assert stock(db, mug.id) == (3, 0)
    cart = client.get("/api/v1/cart", headers=ada).get_json()
    assert cart["lines"] == []  # cleared by fulfilment
    # A paid order is never handed out again; the emptied cart cannot start another.
    assert client.post("/api/v1/checkout/session", json=TERMS, headers=ada).status_code == 409
    payments = db.session.execute(sa.select(Payment)).scalars().all()
    assert [p.status for p in payments] == ["succeeded"]


def test_a_double_tap_places_one_order_with_one_session(app):
    """Concurrent POST /checkout/session for one cart (real commits, real threads)."""
    from app.cart.models import Cart
    from app.catalog.models import Product, StockMovement
    from app.db import unit_of_work
    from app.extensions import db as _db
    from tests.concurrency import run_at_once

    with app.app_context(), unit_of_work():
        product = factories.product("Double Tap Mug", price=1500, stock=5)
        product_id, variant_id = product.id, product.variants[0].id
    client = app.test_client()
    token = add_item(client, variant_id, 1).get_json()["cart_token"]
    try:
        assert set_details(client, guest(token), email="tap@example.com").status_code == 200

        def tap(_: int) -> tuple[int, dict]:
            response = app.test_client().post(
                "/api/v1/checkout/session", json=TERMS, headers=guest(token)
            )
            return response.status_code, response.get_json()

        results = run_at_once(app, 4, tap)
        assert all(isinstance(r, tuple) for r in results), results
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 200, 200, 201], results
        assert len({body["order_number"] for _, body in results}) == 1
        assert len({body["checkout_url"] for _, body in results}) == 1
        with app.app_context():
            cart_id = _db.session.execute(sa.select(Cart.id).where(Cart.token == token)).scalar()
            placed = _db.session.execute(sa.select(Order).where(Order.cart_id == cart_id)).scalars()
            [order] = placed.all()
            assert len(order.payments) == 1
            assert _db.session.get(Variant, variant_id).reserved == 1
    finally:
        with app.app_context(), unit_of_work():
            cart_ids = sa.select(Cart.id).where(Cart.token == token)
            numbers = sa.select(Order.number).where(Order.cart_id.in_(cart_ids))
            _db.session.execute(
                sa.delete(SandboxSession).where(SandboxSession.client_reference_id.in_(numbers))
            )
            _db.session.execute(sa.delete(Order).where(Order.cart_id.in_(cart_ids)))
            _db.session.execute(sa.delete(Cart).where(Cart.token == token))
            _db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            _db.session.execute(sa.delete(Product).where(Product.id == product_id))


def test_a_retry_holding_most_of_the_stock_gets_the_same_order(client, db, ada, mug):
    """The order's own reservation is not counted against its cart (3 of 5 in stock)."""
    add_item(client, mug.id, 3, ada)
    set_details(client, ada)
    first = start_session(client, ada)
    assert first["reused"] is False and stock(db, mug.id) == (5, 3)

    cart = client.get("/api/v1/cart", headers=ada).get_json()
    [line] = cart["lines"]
    assert (line["problem"], line["available"]) == (None, 5)
    assert cart["can_check_out"] is True and cart["subtotal"] == 4500
    summary = client.get("/api/v1/checkout/summary", headers=ada)
    assert summary.status_code == 200 and summary.get_json()["total"] == 4995
    retry = client.post("/api/v1/checkout/session", json=TERMS, headers=ada)
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json() == {**first, "reused": True}
    assert len(orders(db)) == 1 and stock(db, mug.id) == (5, 3)

    # Raising the quantity past what is left for others replaces the order, never oversells.
    assert (
        client.patch(
            f"/api/v1/cart/items/{line['id']}", json={"quantity": 5}, headers=ada
        ).get_json()["lines"][0]["quantity"]
        == 5
    )
    bigger = start_session(client, ada)
    assert bigger["order_number"] != first["order_number"] and bigger["reused"] is False
    assert [o.status for o in orders(db)] == [OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT]
    assert stock(db, mug.id) == (5, 5)
    assert client.get("/api/v1/cart", headers=ada).get_json()["can_check_out"] is True
    # Somebody else's cart sees the units as gone.
    other = add_item(client, mug.id, 1)
    assert other.status_code == 422


def test_guest_retry_holding_most_of_the_stock_gets_the_same_order(client, db, mug):
    token = add_item(client, mug.id, 4).get_json()["cart_token"]
    set_details(client, guest(token), email="guest@example.com")
    first = start_session(client, guest(token))
    retry = client.post("/api/v1/checkout/session", json=TERMS, headers=guest(token))
    assert retry.status_code == 200 and retry.get_json()["order_number"] == first["order_number"]


def test_a_guest_who_signs_in_mid_payment_keeps_polling_and_is_not_charged_twice(client, db, mug):
    """The guest's order becomes the account's; the lines it holds are not merged again."""
    towel = factories.product("Tea Towel", price=800, stock=5).variants[0]
    make_user()
    commit_unit_of_work()
    token = add_item(client, mug.id, 3).get_json()["cart_token"]
    set_details(client, guest(token), email="someone-else@example.com")
    session = start_session(client, guest(token))
    number = session["order_number"]
    assert client.get(f"/api/v1/orders/{number}/status", headers=guest(token)).status_code == 200
    add_item(client, towel.id, 2, guest(token))  # after the session: not in the order
    add_item(client, mug.id, 1, guest(token))  # 4 in the cart, 3 of them in the order

    signed_in = client.post(
        "/api/v1/auth/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers=guest(token),
    )
    assert signed_in.status_code == 200
    assert signed_in.get_json()["cart_messages"] == [
        "We added 2 items from before you signed in to your cart.",
        f"Items waiting for payment in your order {number} were not added to your cart again.",
    ]
    ada = bearer(signed_in.get_json()["access_token"])
    status = client.get(f"/api/v1/orders/{number}/status", headers=ada)
    assert status.status_code == 200 and status.get_json()["status"] == "pending_payment"
    assert [o["number"] for o in client.get("/api/v1/orders", headers=ada).get_json()["items"]] == [
        number
    ]
    cart = client.get("/api/v1/cart", headers=ada).get_json()
    assert sorted((ln["sku"], ln["quantity"], ln["available"]) for ln in cart["lines"]) == sorted(
        [(mug.sku, 1, 2), (towel.sku, 2, 5)]
    )

    pay_in_sandbox(client, session["checkout_url"])
    paid = client.get(f"/api/v1/orders/{number}/status", headers=ada).get_json()
    assert (paid["status"], paid["paid"]) == ("paid", True)
    after = client.get("/api/v1/cart", headers=ada).get_json()
    assert sorted((ln["sku"], ln["quantity"]) for ln in after["lines"]) == sorted(
        [(mug.sku, 1), (towel.sku, 2)]
    )  # paying the order did not touch the account's cart
    assert stock(db, mug.id) == (2, 0)
    # The guest token is dead: it polls nothing.
    assert client.get(f"/api/v1/orders/{number}/status", headers=guest(token)).status_code == 404


def test_a_new_guest_cart_that_gets_a_deleted_carts_id_owns_none_of_its_orders(client, db, mug):
    """SQLite gives a deleted cart's id to the next cart (forced here, so PostgreSQL runs it
    too): the id alone must not make the new guest the owner of the old cart's orders."""
    from app.cart.models import Cart

    first = add_item(client, mug.id, 1).get_json()["cart_token"]
    set_details(client, guest(first), email="first@example.com")
    theirs = start_session(client, guest(first))
    old_id = db.session.execute(sa.select(Cart.id).where(Cart.token == first)).scalar_one()
    db.session.execute(sa.delete(Cart).where(Cart.id == old_id))  # purged, or merged
    second = client.post("/api/v1/cart").get_json()["cart_token"]
    db.session.execute(sa.update(Cart).where(Cart.token == second).values(id=old_id))
    commit_unit_of_work()

    number = theirs["order_number"]
    assert client.get(f"/api/v1/orders/{number}/status", headers=guest(second)).status_code == 404
    add_item(client, mug.id, 2, guest(second))
    set_details(client, guest(second), email="second@example.com")
    mine = start_session(client, guest(second))
    assert mine["order_number"] != number and mine["reused"] is False
    first_order, second_order = orders(db)
    assert first_order.status == second_order.status == OrderStatus.PENDING_PAYMENT
    # The first guest pays its open tab: the second guest's cart keeps its line.
    pay_in_sandbox(client, theirs["checkout_url"])
    cart = client.get("/api/v1/cart", headers=guest(second)).get_json()
    assert [(ln["quantity"], ln["problem"]) for ln in cart["lines"]] == [(2, None)]


def test_paying_an_older_session_takes_only_what_it_bought_out_of_the_cart(client, db, ada, mug):
    towel = factories.product("Tea Towel", price=800, stock=5).variants[0]
    commit_unit_of_work()
    add_item(client, mug.id, 1, ada)
    set_details(client, ada)
    older = start_session(client, ada)
    add_item(client, towel.id, 2, ada)  # never part of that session
    add_item(client, mug.id, 1, ada)  # one more than it bought
    pay_in_sandbox(client, older["checkout_url"])
    status = client.get(f"/api/v1/orders/{older['order_number']}/status", headers=ada)
    assert status.get_json()["paid"] is True and status.get_json()["total"] == 1995
    cart = client.get("/api/v1/cart", headers=ada).get_json()
    assert sorted((ln["sku"], ln["quantity"]) for ln in cart["lines"]) == sorted(
        [(mug.sku, 1), (towel.sku, 2)]
    )

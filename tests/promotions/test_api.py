"""The mobile app applies and removes a code on the cart, sees the discounts in the cart,
the checkout quote and the order, and is refused in the same words as the website."""

from datetime import timedelta

from app.db import commit_unit_of_work, utcnow
from tests.accounts.helpers import make_user
from tests.api.helpers import (
    CART_TOKEN,
    add_item,
    bearer,
    guest,
    pay_in_sandbox,
    set_details,
    start_session,
    tokens,
)
from tests.catalog import factories
from tests.promotions.helpers import promotion


def guest_cart(client, price=3000, quantity=2):
    variant = factories.product("Linen Shirt", price=price, stock=10).variants[0]
    commit_unit_of_work()
    response = add_item(client, variant.id, quantity)
    return guest(response.headers[CART_TOKEN])


def test_apply_see_and_remove_a_code(client, db):
    promotion()
    headers = guest_cart(client)
    response = client.put("/api/v1/cart/code", json={"code": " welcome10"}, headers=headers)
    assert response.status_code == 200
    cart = response.get_json()
    assert cart["code"] == "WELCOME10" and cart["code_problem"] is None
    assert cart["discounts"] == [
        {"name": "Welcome 10 %", "code": "WELCOME10", "target": "items", "amount": 600}
    ]
    assert (cart["subtotal"], cart["discount"], cart["after_discounts"]) == (6000, 600, 5400)
    removed = client.delete("/api/v1/cart/code", headers=headers).get_json()
    assert removed["code"] is None and removed["discounts"] == [] and removed["discount"] == 0


def test_refusals_say_why_with_a_code_for_programs(client, db):
    promotion(
        "Old",
        code="OLD",
        starts_at=utcnow() - timedelta(days=9),
        ends_at=utcnow() - timedelta(days=1),
    )
    promotion("Once", code="ONCE", usage_limit=1).uses = 1
    headers = guest_cart(client)
    cases = {
        "NOSUCH": ("voucher-invalid", "We do not know the code “NOSUCH”. Check it and try again."),
        "OLD": ("voucher-expired", "The code OLD has expired."),
        "ONCE": ("voucher-used-up", "The code ONCE has been used up."),
    }
    commit_unit_of_work()
    for typed, (code, message) in cases.items():
        response = client.put("/api/v1/cart/code", json={"code": typed}, headers=headers)
        body = response.get_json()
        assert response.status_code == 422, typed
        assert (body["code"], body["errors"]["code"]) == (code, [message])
    assert client.get("/api/v1/cart", headers=headers).get_json()["code"] is None
    empty = client.put("/api/v1/cart/code", json={"code": ""}, headers=headers)
    assert empty.status_code == 422  # the schema: 1 to 200 characters
    not_text = client.put("/api/v1/cart/code", json={"code": 12345}, headers=headers)
    assert not_text.status_code == 422


def test_codes_cannot_be_guessed_through_either_door(client, db):
    headers = guest_cart(client)
    statuses = [
        client.put("/api/v1/cart/code", json={"code": f"GUESS{i}"}, headers=headers).status_code
        for i in range(10)
    ]
    assert statuses == [422] * 10
    assert (
        client.put("/api/v1/cart/code", json={"code": "GUESS10"}, headers=headers).status_code
        == 429
    )
    from tests.checkout.helpers import token

    web = client.post("/cart/code", data={"code": "GUESS11", "csrf_token": token(client, "/cart")})
    assert web.status_code == 429  # one budget per client, website and API together


def test_the_quote_and_the_paid_order_carry_the_discount(client, db):
    promotion()
    make_user()
    variant = factories.product("Linen Shirt", price=3000, stock=10).variants[0]
    commit_unit_of_work()
    headers = bearer(tokens(client)["access_token"])
    add_item(client, variant.id, 2, headers=headers)
    client.put("/api/v1/cart/code", json={"code": "WELCOME10"}, headers=headers)
    set_details(client, headers, email="ada@example.com")
    quote = client.get("/api/v1/checkout/summary", headers=headers).get_json()
    assert [line["discount"] for line in quote["lines"]] == [600]
    assert (quote["discount"], quote["shipping"], quote["total"]) == (600, 0, 5400)
    assert quote["code"] == "WELCOME10" and quote["code_problem"] is None
    assert quote["discounts"][0]["amount"] == 600
    started = start_session(client, headers)
    pay_in_sandbox(client, started["checkout_url"])
    order = client.get(f"/api/v1/orders/{started['order_number']}", headers=headers).get_json()
    assert order["status"] == "paid"
    assert order["discounts"] == [
        {"name": "Welcome 10 %", "code": "WELCOME10", "target": "items", "amount": 600}
    ]
    assert order["lines"][0]["discount"] == 600 and order["total"] == 5400

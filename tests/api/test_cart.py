"""Cart API: guest carts by token, the signed-in user's cart, the website's limits and
messages, save for later, merge on login."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.cart.models import Cart, CartLine, SavedItem
from app.catalog.services import set_variant_price
from app.db import commit_unit_of_work
from app.inventory.services import adjust_stock
from tests.accounts.helpers import make_user
from tests.api.helpers import CART_TOKEN, add_item, bearer, guest, tokens
from tests.catalog import factories


@pytest.fixture
def products(db):
    mug = factories.product("Stoneware Mug", price=1500, stock=30)
    lamp = factories.product("Oak Lamp", price=12000, stock=3)
    gone = factories.product("Sold Out Vase", price=4000, stock=0)
    draft = factories.product("Draft Chair", price=9000, stock=5, status="draft")
    commit_unit_of_work()
    return {
        "mug": mug.variants[0],
        "lamp": lamp.variants[0],
        "gone": gone.variants[0],
        "draft": draft.variants[0],
    }


def cart_rows(db) -> set[tuple[int, int]]:
    db.session.expire_all()
    return {
        (line.variant_id, line.quantity)
        for line in db.session.execute(sa.select(CartLine)).scalars()
    }


def new_guest_cart(client) -> str:
    response = client.post("/api/v1/cart")
    assert response.status_code == 201
    return response.get_json()["cart_token"]


def test_guest_cart_by_token(client, db, products):
    empty = client.get("/api/v1/cart")
    assert empty.status_code == 200
    assert empty.get_json()["lines"] == [] and empty.get_json()["cart_token"] is None
    assert db.session.execute(sa.select(sa.func.count()).select_from(Cart)).scalar() == 0

    token = new_guest_cart(client)
    assert len(token) >= 43  # 256 random bits
    again = client.post("/api/v1/cart", headers=guest(token))
    assert again.status_code == 200 and again.get_json()["cart_token"] == token

    response = add_item(client, products["mug"].id, 2, guest(token))
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers[CART_TOKEN] == token
    assert body["cart_token"] == token
    [line] = body["lines"]
    assert line["product_name"] == "Stoneware Mug" and line["quantity"] == 2
    assert (line["unit_price"], line["line_total"]) == (1500, 3000)
    assert (body["subtotal"], body["item_count"], body["can_check_out"]) == (3000, 2, True)
    assert body["currency"] == "EUR" and body["max_quantity"] == 10

    # Somebody without the token sees nothing of it.
    assert client.get("/api/v1/cart").get_json()["lines"] == []
    assert client.get("/api/v1/cart", headers=guest(token)).get_json()["lines"] == [line]


def test_first_add_makes_a_cart_and_an_unknown_token_never_becomes_one(client, db, products):
    first = add_item(client, products["mug"].id)
    token = first.get_json()["cart_token"]
    assert first.status_code == 200 and token
    chosen = "a-token-the-client-made-up-123456"
    response = add_item(client, products["mug"].id, 1, guest(chosen))
    assert response.get_json()["cart_token"] not in (chosen, token)
    assert db.session.execute(sa.select(Cart).where(Cart.token == chosen)).first() is None


@pytest.mark.parametrize("quantity", [0, -1, 11, 10**12, "2", 2.5, "two", None, True], ids=repr)
def test_quantity_must_be_a_whole_number_in_range(client, db, products, quantity):
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 1, guest(token))
    response = client.post(
        "/api/v1/cart/items",
        json={"variant_id": products["mug"].id, "quantity": quantity},
        headers=guest(token),
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "validation-failed" and body["errors"]["quantity"]
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        assert body["errors"]["quantity"] == ["Quantity must be a whole number from 1 to 10."]
    assert cart_rows(db) == {(products["mug"].id, 1)}


def test_quantities_are_capped_as_on_the_website(client, db, products):
    token = new_guest_cart(client)
    lamp = add_item(client, products["lamp"].id, 5, guest(token)).get_json()
    assert lamp["lines"][0]["quantity"] == 3
    assert lamp["messages"] == ["Only 3 of Oak Lamp left, so your cart has 3."]
    add_item(client, products["mug"].id, 8, guest(token))
    mug = add_item(client, products["mug"].id, 5, guest(token)).get_json()
    assert mug["messages"] == ["You can buy at most 10 of Stoneware Mug at a time."]
    assert cart_rows(db) == {(products["lamp"].id, 3), (products["mug"].id, 10)}


def test_unavailable_variants_are_refused_with_the_websites_message(client, db, products):
    token = new_guest_cart(client)
    cases = {
        products["gone"].id: "Sorry, Sold Out Vase is out of stock.",
        products["draft"].id: "That product is not available.",
        999_999: "That product is not available.",
    }
    for variant_id, message in cases.items():
        response = add_item(client, variant_id, 1, guest(token))
        assert response.status_code == 422
        assert response.get_json()["errors"] == {"variant_id": [message]}
    too_big = add_item(client, 2**31, 1, guest(token))
    assert too_big.status_code == 422 and "variant_id" in too_big.get_json()["errors"]
    assert cart_rows(db) == set()


def test_a_full_cart_is_a_409(client, db, products, monkeypatch, app):
    monkeypatch.setitem(app.config, "CART_MAX_LINES", 1)
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 1, guest(token))
    response = add_item(client, products["lamp"].id, 1, guest(token))
    assert response.status_code == 409 and response.get_json()["code"] == "cart-full"
    assert "at most" in response.get_json()["detail"]
    # Adding to a line that is already there is still fine.
    assert add_item(client, products["mug"].id, 1, guest(token)).status_code == 200
    assert cart_rows(db) == {(products["mug"].id, 2)}


def test_update_remove_save_move_and_clear(client, db, products):
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 1, guest(token))
    body = add_item(client, products["lamp"].id, 1, guest(token)).get_json()
    mug_line, lamp_line = (line["id"] for line in body["lines"])

    patched = client.patch(
        f"/api/v1/cart/items/{mug_line}", json={"quantity": 4}, headers=guest(token)
    )
    assert patched.status_code == 200 and patched.get_json()["lines"][0]["quantity"] == 4
    capped = client.patch(
        f"/api/v1/cart/items/{lamp_line}", json={"quantity": 9}, headers=guest(token)
    ).get_json()
    assert capped["messages"] == ["Only 3 of Oak Lamp left, so your cart has 3."]
    bad = client.patch(
        f"/api/v1/cart/items/{mug_line}", json={"quantity": 11}, headers=guest(token)
    )
    assert bad.status_code == 422 and bad.get_json()["errors"]["quantity"]

    saved = client.post(
        f"/api/v1/cart/items/{lamp_line}/save-for-later", headers=guest(token)
    ).get_json()
    assert [line["product_name"] for line in saved["lines"]] == ["Stoneware Mug"]
    [item] = saved["saved"]
    assert (item["product_name"], item["price"], item["in_stock"]) == ("Oak Lamp", 12000, True)

    moved = client.post(
        f"/api/v1/cart/saved/{item['id']}/move-to-cart", headers=guest(token)
    ).get_json()
    assert moved["saved"] == [] and len(moved["lines"]) == 2
    lamp_line = next(ln["id"] for ln in moved["lines"] if ln["product_name"] == "Oak Lamp")
    client.post(f"/api/v1/cart/items/{lamp_line}/save-for-later", headers=guest(token))
    item_id = client.get("/api/v1/cart", headers=guest(token)).get_json()["saved"][0]["id"]
    deleted = client.delete(f"/api/v1/cart/saved/{item_id}", headers=guest(token))
    assert deleted.status_code == 200 and deleted.get_json()["saved"] == []

    zero = client.patch(
        f"/api/v1/cart/items/{mug_line}", json={"quantity": 0}, headers=guest(token)
    )
    assert zero.status_code == 200 and zero.get_json()["lines"] == []
    add_item(client, products["mug"].id, 2, guest(token))
    removed_line = client.get("/api/v1/cart", headers=guest(token)).get_json()["lines"][0]["id"]
    assert (
        client.delete(f"/api/v1/cart/items/{removed_line}", headers=guest(token)).get_json()[
            "lines"
        ]
        == []
    )
    add_item(client, products["mug"].id, 2, guest(token))
    cleared = client.delete("/api/v1/cart", headers=guest(token))
    assert cleared.status_code == 200 and cleared.get_json()["lines"] == []
    assert cart_rows(db) == set()


def test_moving_a_sold_out_saved_item_is_refused_and_it_stays_saved(client, db, products):
    token = new_guest_cart(client)
    line = add_item(client, products["lamp"].id, 1, guest(token)).get_json()["lines"][0]
    item = client.post(
        f"/api/v1/cart/items/{line['id']}/save-for-later", headers=guest(token)
    ).get_json()["saved"][0]
    adjust_stock(products["lamp"].id, -3)
    commit_unit_of_work()
    response = client.post(f"/api/v1/cart/saved/{item['id']}/move-to-cart", headers=guest(token))
    assert response.status_code == 409
    assert response.get_json()["code"] == "out-of-stock"  # the service's code, not a guess
    assert response.get_json()["detail"] == "Sorry, Oak Lamp is out of stock."
    assert db.session.execute(sa.select(sa.func.count()).select_from(SavedItem)).scalar() == 1


def test_price_changes_and_stock_problems_are_shown_on_the_lines(
    client, db, products, count_queries
):
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 1, guest(token))
    add_item(client, products["lamp"].id, 3, guest(token))
    set_variant_price(products["mug"], 1800)
    adjust_stock(products["lamp"].id, -2)
    commit_unit_of_work()
    body = client.get("/api/v1/cart", headers=guest(token)).get_json()
    mug, lamp = body["lines"]
    assert (mug["unit_price"], mug["price_was"], mug["line_total"]) == (1800, 1500, 1800)
    assert lamp["problem"] == "Only 1 left. Lower the quantity to check out."
    assert body["can_check_out"] is False and body["subtotal"] == 1800
    count_queries.statements.clear()
    again = client.get("/api/v1/cart", headers=guest(token)).get_json()
    assert again["lines"][0]["price_was"] == 1500  # reading never writes: still shown
    assert not [
        s for s in count_queries.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    changed = client.patch(
        f"/api/v1/cart/items/{mug['id']}", json={"quantity": 2}, headers=guest(token)
    ).get_json()
    assert changed["lines"][0]["price_was"] is None  # acted on: the notice ends


@pytest.mark.parametrize("path_id", [0, 4676412878, 2**63, 10**30])
def test_ids_out_of_range_are_404_problems(client, db, products, path_id):
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 1, guest(token))
    for method, url, kwargs in (
        ("delete", f"/api/v1/cart/items/{path_id}", {}),
        ("patch", f"/api/v1/cart/items/{path_id}", {"json": {"quantity": 1}}),
        ("post", f"/api/v1/cart/items/{path_id}/save-for-later", {}),
        ("post", f"/api/v1/cart/saved/{path_id}/move-to-cart", {}),
        ("delete", f"/api/v1/cart/saved/{path_id}", {}),
    ):
        response = getattr(client, method)(url, headers=guest(token), **kwargs)
        assert response.status_code == 404, (url, response.status_code)
        assert response.mimetype == "application/problem+json"
    assert cart_rows(db) == {(products["mug"].id, 1)}


def test_signed_in_user_has_one_cart_and_the_token_header_is_ignored(client, db, products):
    make_user()
    token = new_guest_cart(client)
    add_item(client, products["lamp"].id, 1, guest(token))
    access = tokens(client)["access_token"]
    headers = {**bearer(access), CART_TOKEN: token}
    body = add_item(client, products["mug"].id, 2, headers).get_json()
    assert (
        body["cart_token"] is None
        and CART_TOKEN not in add_item(client, products["mug"].id, 1, headers).headers
    )
    assert [
        ln["product_name"]
        for ln in client.get("/api/v1/cart", headers=bearer(access)).get_json()["lines"]
    ] == ["Stoneware Mug"]
    user_cart = db.session.execute(sa.select(Cart).where(Cart.user_id.is_not(None))).scalar_one()
    assert user_cart.token is None


def test_a_bad_bearer_token_is_a_401_not_a_guest(client, db, products):
    token = new_guest_cart(client)
    for headers in ({"Authorization": "Bearer nonsense"}, {"Authorization": ""}):
        response = client.get("/api/v1/cart", headers={**headers, CART_TOKEN: token})
        assert response.status_code == 401
        assert (
            add_item(client, products["mug"].id, 1, {**headers, CART_TOKEN: token}).status_code
            == 401
        )
    assert cart_rows(db) == set()


def test_login_merges_the_guest_cart(client, db, products):
    make_user()
    token = new_guest_cart(client)
    add_item(client, products["mug"].id, 2, guest(token))
    add_item(client, products["lamp"].id, 3, guest(token))
    access = tokens(client)["access_token"]
    add_item(client, products["mug"].id, 9, bearer(access))  # the account's own cart

    from tests.accounts.helpers import PASSWORD

    response = client.post(
        "/api/v1/auth/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers=guest(token),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["access_token"] and body["refresh_token"]
    assert body["cart_messages"] == [
        "We added 2 items from before you signed in to your cart.",
        "You can buy at most 10 of Stoneware Mug at a time.",
    ]
    cart = client.get("/api/v1/cart", headers=bearer(body["access_token"])).get_json()
    assert {(ln["product_name"], ln["quantity"]) for ln in cart["lines"]} == {
        ("Stoneware Mug", 10),
        ("Oak Lamp", 3),
    }
    # The guest cart is gone; its token names nothing any more.
    assert client.get("/api/v1/cart", headers=guest(token)).get_json()["lines"] == []
    plain = client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert plain.get_json()["cart_messages"] == []

"""Wishlists: signed-in shoppers save products from cards and product pages (htmx toggle or
a plain form), see them at /wishlist, move them to the cart; guests are asked to sign in and
come back to the product; nobody sees anyone else's; the API is the same door."""

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.wishlists.models import WishlistItem
from tests.accounts.helpers import login, make_user
from tests.api.helpers import bearer, tokens
from tests.catalog import factories
from tests.checkout.helpers import token

HX = {"HX-Request": "true"}


def toggle(client, product, headers=None, page=None):
    page = page or f"/products/{product.slug}"
    return client.post(
        "/wishlist/toggle",
        data={"product_id": product.id, "csrf_token": token(client, page)},
        headers={"Referer": f"http://localhost{page}", **(headers or {})},
    )


def signed_in(client, email="grace@example.com"):
    user = make_user(email)
    commit_unit_of_work()
    login(client, email)
    return user


def test_save_from_the_product_page_and_see_it_pressed_everywhere(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    signed_in(client)
    page = client.get(f"/products/{mug.slug}").get_data(as_text=True)
    assert 'aria-pressed="false"' in page and "__WISH_" not in page
    response = toggle(client, mug)
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved Speckled Mug to your wishlist." in shown
    assert 'aria-pressed="true"' in client.get(f"/products/{mug.slug}").get_data(as_text=True)
    listing = client.get("/products").get_data(as_text=True)
    assert f'data-focus-key="wish-{mug.id}" aria-pressed="true"' in listing
    assert "Speckled Mug" in client.get("/wishlist").get_data(as_text=True)


def test_the_htmx_toggle_answers_with_the_button(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    signed_in(client)
    on = toggle(client, mug, headers=HX).get_data(as_text=True)
    assert 'aria-pressed="true"' in on and on.lstrip().startswith("<form")
    off = toggle(client, mug, headers=HX).get_data(as_text=True)
    assert 'aria-pressed="false"' in off
    assert db.session.execute(sa.select(sa.func.count()).select_from(WishlistItem)).scalar() == 0


def test_guests_are_asked_to_sign_in_and_come_back_to_the_product(app, client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    response = toggle(client, mug)
    assert response.headers["Location"] == f"/account/login?next=/products/{mug.slug}"
    hx = toggle(client, mug, headers=HX)
    assert hx.headers["HX-Redirect"] == f"/account/login?next=/products/{mug.slug}"
    assert client.get("/wishlist").status_code in (302, 303)
    anonymous = client.get("/products").get_data(as_text=True)
    assert 'aria-pressed="true"' not in anonymous


def test_move_to_cart_and_remove(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    shirt = factories.product(
        "Shirt",
        variants=[
            factories.VariantInput(sku="SH-S", price=2500, options={"size": "S"}, stock=2),
            factories.VariantInput(sku="SH-M", price=2500, options={"size": "M"}, stock=2),
        ],
    )
    commit_unit_of_work()
    signed_in(client)
    toggle(client, mug)
    toggle(client, shirt)
    moved = client.post(f"/wishlist/{mug.id}/move", data={"csrf_token": token(client, "/wishlist")})
    assert "Moved Speckled Mug to your cart." in client.get(moved.headers["Location"]).get_data(
        as_text=True
    )
    assert "Speckled Mug" in client.get("/cart").get_data(as_text=True)
    choose = client.post(
        f"/wishlist/{shirt.id}/move", data={"csrf_token": token(client, "/wishlist")}
    )
    assert choose.headers["Location"] == f"/products/{shirt.slug}"  # choose the size first
    client.post(f"/wishlist/{shirt.id}/remove", data={"csrf_token": token(client, "/wishlist")})
    assert "Your wishlist is empty." in client.get("/wishlist").get_data(as_text=True)


def test_nobody_sees_anothers_wishlist(app, client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    signed_in(client, "grace@example.com")
    toggle(client, mug)
    other = app.test_client()
    make_user("bob@example.com")
    commit_unit_of_work()
    login(other, "bob@example.com")
    assert "Speckled Mug" not in other.get("/wishlist").get_data(as_text=True)
    assert 'aria-pressed="true"' not in other.get(f"/products/{mug.slug}").get_data(as_text=True)
    other.post(f"/wishlist/{mug.id}/remove", data={"csrf_token": token(other, "/wishlist")})
    assert db.session.execute(sa.select(sa.func.count()).select_from(WishlistItem)).scalar() == 1


def test_the_api_is_the_same_wishlist(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    draft = factories.product("Draft", price=1500, status="draft")
    make_user()
    commit_unit_of_work()
    headers = bearer(tokens(client)["access_token"])
    saved = client.put(f"/api/v1/wishlist/{mug.id}", headers=headers)
    assert saved.status_code == 200
    assert [i["product"]["slug"] for i in saved.get_json()["items"]] == [mug.slug]
    assert client.put(f"/api/v1/wishlist/{mug.id}", headers=headers).status_code == 200  # again
    assert client.put(f"/api/v1/wishlist/{draft.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/wishlist").status_code == 401
    gone = client.delete(f"/api/v1/wishlist/{mug.id}", headers=headers).get_json()
    assert gone["items"] == []


def test_a_draft_products_address_is_never_given_away(client, db):
    draft = factories.product("Secret Launch", price=1500, status="draft")
    commit_unit_of_work()
    response = client.post(
        "/wishlist/toggle",
        data={"product_id": draft.id, "csrf_token": token(client, "/products")},
    )
    assert response.headers["Location"] == "/account/login"

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cart.models import Cart, CartLine, SavedItem
from app.cart.services import purge_expired
from app.catalog.services import VariantInput, set_product_status, set_variant_price
from app.db import commit_unit_of_work, utcnow
from app.extensions import db as _db
from app.inventory.services import adjust_stock
from tests.accounts.helpers import login, make_user
from tests.catalog import factories


def token(client, path="/cart"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def add(client, variant_id, quantity="1", htmx=False, **extra):
    headers = {"HX-Request": "true", "HX-Target": "mini-cart"} if htmx else {}
    return client.post(
        "/cart/add",
        data={"variant_id": variant_id, "quantity": quantity, "csrf_token": token(client), **extra},
        headers={**headers, "Referer": "http://localhost/products/x"},
    )


def lines(db):
    db.session.expire_all()
    return {
        (line.variant.sku, line.quantity)
        for line in db.session.execute(sa.select(CartLine)).scalars()
    }


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


def test_add_without_javascript_redirects_back_with_a_message(client, db, products):
    response = add(client, products["mug"].id, "2")
    assert response.status_code == 303 and response.headers["Location"] == "/products/x"
    page = client.get("/cart").get_data(as_text=True)
    assert "Added Stoneware Mug — 2 in your cart." in page
    assert '<a href="/cart">View cart</a>' in page
    assert "Stoneware Mug" in page and "€30.00" in page
    assert re.search(r'Cart <span class="badge badge-count">2</span>', page)
    assert lines(db) == {(products["mug"].sku, 2)}


def test_add_with_htmx_updates_the_mini_cart_and_messages(client, db, products):
    response = add(client, products["mug"].id, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # The message goes beside the button (the form's status region), the header cart out of band.
    assert html.startswith('<p class="flash flash-success">Added Stoneware Mug — 1 in your cart.')
    assert '<li id="mini-cart" hx-swap-oob="true">' in html
    assert '<span class="badge badge-count">1</span>' in html


@pytest.mark.parametrize("quantity", ["-1", "0", "0.5", "1e12", "abc", "", "11", "999999999999"])
def test_bad_quantities_are_refused_and_nothing_changes(client, db, products, quantity):
    add(client, products["mug"].id, "1")
    response = add(client, products["mug"].id, quantity)
    assert response.status_code == 303
    page = client.get("/cart").get_data(as_text=True)
    assert "Quantity must be a whole number from 1 to 10." in page
    assert lines(db) == {(products["mug"].sku, 1)}


@pytest.mark.parametrize("variant_id", ["", "abc", "-5", "999999"])
def test_bad_variant_ids_are_refused(client, db, products, variant_id):
    add(client, variant_id)
    page = client.get("/cart").get_data(as_text=True)
    assert "Your cart is empty." in page
    assert ("Choose a product option first." in page) or ("not available" in page)


def test_per_line_and_stock_caps_are_explained(client, db, products):
    add(client, products["mug"].id, "8")
    add(client, products["mug"].id, "5")
    page = client.get("/cart").get_data(as_text=True)
    assert "You can buy at most 10 of Stoneware Mug at a time." in page
    add(client, products["lamp"].id, "5")
    page = client.get("/cart").get_data(as_text=True)
    assert "Only 3 of Oak Lamp left, so your cart has 3." in page
    assert lines(db) == {(products["mug"].sku, 10), (products["lamp"].sku, 3)}


def test_unbuyable_products_are_refused_with_the_reason(client, db, products):
    add(client, products["gone"].id)
    assert "Sorry, Sold Out Vase is out of stock." in client.get("/cart").get_data(as_text=True)
    add(client, products["draft"].id)
    assert "That product is not available." in client.get("/cart").get_data(as_text=True)
    assert lines(db) == set()


def test_line_limit(client, db, products, app):
    app.config["CART_MAX_LINES"] = 1
    try:
        add(client, products["mug"].id)
        add(client, products["lamp"].id)
    finally:
        app.config["CART_MAX_LINES"] = 50
    assert "different items at most" in client.get("/cart").get_data(as_text=True)
    assert lines(db) == {(products["mug"].sku, 1)}


def test_quantity_steps_remove_save_for_later_and_back(client, db, products):
    add(client, products["mug"].id, "2")
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    t = token(client)
    client.post(f"/cart/lines/{line_id}/quantity", data={"quantity": "3", "csrf_token": t})
    assert lines(db) == {(products["mug"].sku, 3)}
    response = client.post(
        f"/cart/lines/{line_id}/quantity",
        data={"quantity": "4", "csrf_token": t},
        headers={"HX-Request": "true", "HX-Target": "cart-body"},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="cart-body"') and "€60.00" in html
    assert '<li id="mini-cart" hx-swap-oob="true">' in html
    # Said in the polite status region, naming the item.
    assert "Updated Stoneware Mug: 4 in your cart." in html.split('id="flash-messages"')[1]
    client.post(f"/cart/lines/{line_id}/save", data={"csrf_token": t})
    assert lines(db) == set()
    page = client.get("/cart").get_data(as_text=True)
    assert "Saved for later" in page and "Saved Stoneware Mug for later." in page
    saved_id = db.session.execute(sa.select(SavedItem.id)).scalar_one()
    client.post(f"/cart/saved/{saved_id}/move", data={"csrf_token": t})
    assert lines(db) == {(products["mug"].sku, 1)}
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    client.post(f"/cart/lines/{line_id}/quantity", data={"quantity": "0", "csrf_token": t})
    assert lines(db) == set()


def test_a_price_change_is_shown_until_the_shopper_acts_and_viewing_writes_nothing(
    client, db, products, count_queries
):
    add(client, products["mug"].id)
    set_variant_price(products["mug"], 1200)
    commit_unit_of_work()
    count_queries.statements.clear()
    first = client.get("/cart").get_data(as_text=True)
    assert "Price changed from €15.00 to €12.00" in first
    writes = [
        s
        for s in count_queries.statements
        if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []  # a page view never writes
    second = client.get("/cart").get_data(as_text=True)
    assert "Price changed from €15.00 to €12.00" in second and "€12.00" in second
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    t = token(client)
    client.post(f"/cart/lines/{line_id}/quantity", data={"quantity": "2", "csrf_token": t})
    third = client.get("/cart").get_data(as_text=True)
    assert "Price changed" not in third and "€24.00" in third


def test_lines_that_went_out_of_stock_block_checkout(client, db, products):
    add(client, products["lamp"].id, "2")
    add(client, products["mug"].id, "1")
    adjust_stock(products["lamp"].id, -3)
    commit_unit_of_work()
    page = client.get("/cart").get_data(as_text=True)
    assert "Out of stock. Remove it or save it for later to check out." in page
    assert "Subtotal (3 items)" in page and "€15.00</strong>" in page  # lamp excluded
    set_product_status(products["mug"].product, "archived")
    commit_unit_of_work()
    assert "This product is no longer sold." in client.get("/cart").get_data(as_text=True)


def test_one_shopper_cannot_touch_another_shoppers_cart(app, db, products):
    alice, mallory = app.test_client(), app.test_client()
    add(alice, products["mug"].id, "2")
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    add(mallory, products["lamp"].id)
    t = token(mallory)
    for path, data in [
        (f"/cart/lines/{line_id}/quantity", {"quantity": "1"}),
        (f"/cart/lines/{line_id}/remove", {}),
        (f"/cart/lines/{line_id}/save", {}),
    ]:
        assert mallory.post(path, data={**data, "csrf_token": t}).status_code == 404
    assert "Stoneware Mug" not in mallory.get("/cart").get_data(as_text=True)
    assert (products["mug"].sku, 2) in lines(db)


def test_signed_in_users_see_only_their_own_cart(app, db, products):
    make_user("ada@example.com")
    make_user("bob@example.com")
    ada, bob = app.test_client(), app.test_client()
    login(ada, "ada@example.com")
    login(bob, "bob@example.com")
    add(ada, products["mug"].id)
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    assert (
        bob.post(f"/cart/lines/{line_id}/remove", data={"csrf_token": token(bob)}).status_code
        == 404
    )
    assert "Your cart is empty." in bob.get("/cart").get_data(as_text=True)


def test_guest_cart_merges_into_the_users_cart_on_sign_in(client, db, products, app):
    user = make_user("ada@example.com")
    other = app.test_client()
    login(other, "ada@example.com")
    add(other, products["mug"].id, "7")  # already in the account's cart
    other.post("/account/logout", data={"csrf_token": token(other, "/account")})
    add(client, products["mug"].id, "6")  # as a guest
    add(client, products["lamp"].id, "2")
    login(client, "ada@example.com")
    page = client.get("/cart").get_data(as_text=True)
    assert "We added 2 items from before you signed in to your cart." in page
    assert "You can buy at most 10 of Stoneware Mug at a time." in page
    assert lines(db) == {(products["mug"].sku, 10), (products["lamp"].sku, 2)}
    carts = db.session.execute(sa.select(Cart.user_id, Cart.token)).all()
    assert carts == [(user.id, None)]  # the guest cart is gone
    with client.session_transaction() as session:
        assert "guest_cart" not in session


def test_expired_carts_are_ignored_and_purged(client, db, products):
    add(client, products["mug"].id)
    _db.session.execute(sa.update(Cart).values(expires_at=utcnow() - timedelta(seconds=1)))
    commit_unit_of_work()
    assert "Your cart is empty." in client.get("/cart").get_data(as_text=True)
    assert purge_expired() == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(CartLine)).scalar() == 0


def test_activity_renews_the_cart(client, db, products, app):
    add(client, products["mug"].id)
    expires = db.session.execute(sa.select(Cart.expires_at)).scalar_one()
    days = app.config["GUEST_CART_DAYS"]
    assert timedelta(days=days) - timedelta(minutes=1) < expires - utcnow() <= timedelta(days=days)


def test_cart_page_query_count_does_not_grow_with_lines(client, db, count_queries):
    made = [
        factories.product(
            f"Thing {i}",
            price=100 + i,
            stock=5,
            variants=[VariantInput(sku=f"THING-{i}", price=100 + i, options={"n": i}, stock=5)],
        )
        for i in range(12)
    ]
    commit_unit_of_work()
    add(client, made[0].variants[0].id)
    client.get("/cart")
    before = count_queries.count
    client.get("/cart")
    one_line = count_queries.count - before
    for product in made[1:]:
        add(client, product.variants[0].id)
    client.get("/cart")
    before = count_queries.count
    client.get("/cart")
    assert count_queries.count - before == one_line
    # the cart, its lines (their pictures and the cart's own reservations joined), saved
    # items, promotions
    assert one_line <= 4, one_line


def test_add_to_cart_query_count_is_constant(client, db, products, count_queries):
    add(client, products["mug"].id)
    before = count_queries.count
    add(client, products["lamp"].id)
    per_add = count_queries.count - before
    assert per_add <= 20


def test_guest_cart_survives_the_two_factor_step(client, db, products):
    import pyotp

    user = make_user("ada@example.com")
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    commit_unit_of_work()
    add(client, products["mug"].id, "2")
    response = login(client, "ada@example.com")
    assert response.headers["Location"] == "/account/login/two-factor"
    page = "/account/login/two-factor"
    code = pyotp.TOTP(user.totp_secret).now()
    client.post(page, data={"code": code, "csrf_token": token(client, page)})
    assert lines(db) == {(products["mug"].sku, 2)}
    cart_user = db.session.execute(sa.select(Cart.user_id)).scalar_one()
    assert cart_user == user.id


def test_stepper_buttons_win_over_the_typed_quantity(client, db, products):
    add(client, products["mug"].id, "2")
    line_id = db.session.execute(sa.select(CartLine.id)).scalar_one()
    # A browser sends the typed field and the pressed button's value.
    client.post(
        f"/cart/lines/{line_id}/quantity",
        data={"quantity": "2", "set_quantity": "3", "csrf_token": token(client)},
    )
    assert lines(db) == {(products["mug"].sku, 3)}
    client.post(
        f"/cart/lines/{line_id}/quantity",
        data={"quantity": "3", "set_quantity": "0", "csrf_token": token(client)},
    )
    assert lines(db) == set()


def test_revalidated_page_shows_new_messages_and_count_not_a_stale_304(client, db, products):
    page = client.get("/products")
    etag = page.headers["ETag"]
    add(client, products["mug"].id)
    again = client.get("/products", headers={"If-None-Match": etag})
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "in your cart." in html and '<span class="badge badge-count">1</span>' in html


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost//evil.example",
        "http://localhost///evil.example/path",
        "//evil.example/x",
        "/\\evil.example",
        "/\tevil.example",
        "https://evil.example/products/x",
        "javascript:alert(1)",
        "http://localhost.evil.example/products/x",
    ],
)
def test_the_next_field_and_referer_never_send_the_shopper_off_site(client, db, products, target):
    by_field = add(client, products["mug"].id, next=target)
    by_referer = client.post(
        "/cart/add",
        data={"variant_id": products["mug"].id, "quantity": "1", "csrf_token": token(client)},
        headers={"Referer": target},
    )
    # A refused next falls back to the (local) Referer; a refused Referer to the cart.
    assert by_field.status_code == by_referer.status_code == 303
    assert by_field.headers["Location"] == "/products/x"
    assert by_referer.headers["Location"] == "/cart"


def test_a_local_next_with_its_query_is_honoured(client, db, products):
    response = add(client, products["mug"].id, next="http://localhost/c/mugs?sort=price&page=2")
    assert response.headers["Location"] == "/c/mugs?sort=price&page=2"
    assert add(client, products["mug"].id, next="/products?q=mug").headers["Location"] == (
        "/products?q=mug"
    )


def test_the_add_confirmation_escapes_the_product_name(client, db):
    variant = factories.product("<b>Bold</b> & Co Mug", stock=3).variants[0]
    commit_unit_of_work()
    add(client, variant.id)
    page = client.get("/cart").get_data(as_text=True)
    assert "Added &lt;b&gt;Bold&lt;/b&gt; &amp; Co Mug — 1 in your cart." in page


def test_the_header_cart_panel_lists_lines_and_subtotal(client, db, products, count_queries):
    hx = {"HX-Request": "true", "HX-Target": "mini-cart-panel"}
    assert "Your cart is empty." in client.get("/cart/mini", headers=hx).get_data(as_text=True)
    add(client, products["mug"].id, "2")
    page = client.get("/products").get_data(as_text=True)
    # The page itself carries only the count; the lines are fetched when the panel opens.
    assert 'hx-get="/cart/mini" hx-trigger="shop:open once"' in page and "Subtotal" not in page
    count_queries.statements.clear()
    html = client.get("/cart/mini", headers=hx).get_data(as_text=True)
    assert len(count_queries.statements) <= 6
    assert "Your cart · 2 items" in html and "Stoneware Mug" in html
    assert "2 × €15.00" in html and "<strong>€30.00</strong>" in html
    assert 'href="/cart"' in html and 'href="/checkout"' in html
    response = client.get("/cart/mini")  # without htmx: the cart page
    assert response.status_code == 302 and response.headers["Location"] == "/cart"
    assert "no-store" in client.get("/cart/mini", headers=hx).headers["Cache-Control"]

import json
import re

import pytest

from app.catalog.services import set_product_status, set_variant_price
from app.db import commit_unit_of_work
from tests.accounts.helpers import login, make_user
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart


def test_product_page_shows_what_a_shopper_needs(client, shirt):
    response = client.get("/products/oxford-shirt")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>Oxford Shirt · ShopSphere</title>" in html
    assert "<h1>Oxford Shirt</h1>" in html
    # The first variant that can be bought is preselected: M, with its low stock shown.
    assert "€45.00" in html and "Only 3 left" in html and "SKU: OX-M" in html
    assert "<b>cotton</b>" in html and "<script>alert(1)</script>" not in html
    assert 'aria-label="Breadcrumb"' in html and 'href="/c/clothing/men"' in html
    assert "Flannel Shirt" in html  # related product from the same category
    assert "<dt>Material</dt><dd>cotton</dd>" in html


def test_product_page_has_json_ld(client, shirt):
    html = client.get("/products/oxford-shirt").get_data(as_text=True)
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data = next(d for d in map(json.loads, found) if d["@type"] == "Product")  # and breadcrumbs
    assert data["name"] == "Oxford Shirt"
    assert data["offers"]["lowPrice"] == "45.00" and data["offers"]["highPrice"] == "49.00"
    assert data["offers"]["priceCurrency"] == "EUR"
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert data["brand"]["name"] == "Kestrel"


def test_variant_selection_without_javascript(client, shirt):
    xl = next(v for v in shirt.variants if v.sku == "OX-XL")
    html = client.get(f"/products/oxford-shirt?variant={xl.id}").get_data(as_text=True)
    assert "€49.00" in html and "SKU: OX-XL" in html and "<s>€59.00</s>" in html
    s = next(v for v in shirt.variants if v.sku == "OX-S")
    html = client.get(f"/products/oxford-shirt?variant={s.id}").get_data(as_text=True)
    assert "Out of stock" in html and "SKU: OX-S" in html


def test_variant_selection_with_htmx_returns_the_panel(client, shirt):
    xl = next(v for v in shirt.variants if v.sku == "OX-XL")
    response = client.get(
        f"/products/oxford-shirt?variant={xl.id}",
        headers={"HX-Request": "true", "HX-Target": "variant-panel"},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="variant-panel"')
    assert "SKU: OX-XL" in html and "<h1>" not in html


@pytest.mark.parametrize("variant", ["abc", "-1", "999999", ""])
def test_bad_variant_parameter_falls_back_to_the_default(client, shirt, variant):
    response = client.get(f"/products/oxford-shirt?variant={variant}")
    assert response.status_code == 200
    assert "SKU: OX-M" in response.get_data(as_text=True)


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_unpublished_products_are_404(client, db, status):
    factories.product("Hidden Thing", status=status)
    commit_unit_of_work()
    assert client.get("/products/hidden-thing").status_code == 404


def test_unknown_product_is_404(client, db):
    assert client.get("/products/nope").status_code == 404


def test_price_change_is_visible_at_once(client, shirt):
    assert "€45.00" in client.get("/products/oxford-shirt").get_data(as_text=True)
    medium = next(v for v in shirt.variants if v.sku == "OX-M")
    set_variant_price(medium, 3900)
    commit_unit_of_work()
    html = client.get("/products/oxford-shirt").get_data(as_text=True)
    assert "€39.00" in html
    assert "€39.00" in client.get("/products").get_data(as_text=True)


def test_archiving_removes_a_cached_product_at_once(client, shirt):
    assert client.get("/products/oxford-shirt").status_code == 200
    assert "Oxford Shirt" in client.get("/products").get_data(as_text=True)
    set_product_status(shirt, "archived")
    commit_unit_of_work()
    assert client.get("/products/oxford-shirt").status_code == 404
    assert "Oxford Shirt" not in client.get("/products").get_data(as_text=True)


def test_etag_revalidation_answers_304(client, shirt):
    client.get("/cart")  # a visitor with a session
    first = client.get("/products/oxford-shirt")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/products/oxford-shirt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    set_variant_price(shirt.variants[0], 4000)
    commit_unit_of_work()
    changed = client.get("/products/oxford-shirt", headers={"If-None-Match": etag})
    assert changed.status_code == 200


@pytest.mark.parametrize("path", ["/", "/products", "/c/clothing", "/products/oxford-shirt"])
def test_cookieless_visitors_get_one_etag_and_a_304(app, shirt, path):
    """Crawlers and CDNs keep no cookies: the page must not change per request, or they
    could never revalidate it."""
    first, second = app.test_client().get(path), app.test_client().get(path)
    assert first.status_code == second.status_code == 200
    assert "Set-Cookie" not in first.headers  # no session for a visitor who has not posted
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.data == second.data
    revalidated = app.test_client().get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.data == b""
    assert revalidated.headers["ETag"] == first.headers["ETag"]
    assert "Set-Cookie" not in revalidated.headers
    since = app.test_client().get(
        path, headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304


def test_if_modified_since_never_hides_a_changed_cart(client, shirt):
    """With a session the page shows the visitor's cart; it has no date to compare, so a
    date alone never gets a 304."""
    page = client.get("/products/oxford-shirt")
    date = page.headers.get("Last-Modified") or "Sun, 06 Dec 2099 00:00:00 GMT"
    add_to_cart(client, shirt.variants[0].id, 2)
    after = client.get("/products/oxford-shirt", headers={"If-Modified-Since": date})
    assert after.status_code == 200
    assert "Last-Modified" not in after.headers


def test_a_guest_adds_with_the_shared_token_then_gets_their_own(app, shirt):
    guest = app.test_client()
    html = guest.get("/products/oxford-shirt").get_data(as_text=True)
    shared = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    assert shared == re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    data = {"csrf_token": shared, "variant_id": shirt.variants[1].id, "quantity": "1"}
    added = guest.post("/cart/add", data=data, headers={"Origin": "http://localhost"})
    assert added.status_code == 303
    # Back to the page the browser kept: its shared token still adds for this guest.
    assert guest.post("/cart/add", data=data).status_code == 303
    assert re.search(r'badge-count">2<', guest.get("/cart").get_data(as_text=True))
    # From now on the page carries the guest's own token.
    html = guest.get("/products/oxford-shirt").get_data(as_text=True)
    own = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    assert own != shared and not own.startswith("anon.")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site
        {"Referer": "https://evil.example/page"},
    ],
)
def test_the_shared_token_is_refused_from_another_site(app, shirt, headers):
    guest = app.test_client()
    html = guest.get("/products/oxford-shirt").get_data(as_text=True)
    shared = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    data = {"csrf_token": shared, "variant_id": shirt.variants[1].id, "quantity": "1"}
    assert guest.post("/cart/add", data=data, headers=headers).status_code == 400


def test_a_non_ascii_shared_token_is_a_clear_400(app, shirt):
    bucket = re.search(
        r'"X-CSRFToken": "anon\.([0-9]+)\.',
        app.test_client().get("/products/oxford-shirt").get_data(as_text=True),
    ).group(1)
    data = {"csrf_token": f"anon.{bucket}.{'é' * 32}", "variant_id": shirt.variants[1].id}
    assert app.test_client().post("/cart/add", data=data).status_code == 400


def test_the_shared_token_does_nothing_for_a_signed_in_account(app, db, shirt):
    from app.core.csrf import anonymous_token

    make_user()
    db.session.commit()
    client = app.test_client()
    assert login(client).status_code == 302

    with app.test_request_context():
        shared = anonymous_token()
    data = {"csrf_token": shared, "variant_id": shirt.variants[1].id, "quantity": "1"}
    assert client.post("/cart/add", data=data).status_code == 400
    # nor outside the few actions of the catalog pages
    assert app.test_client().post("/account/logout", data={"csrf_token": shared}).status_code == 400


def test_an_expired_or_forged_shared_token_is_refused(app):
    from app.core.csrf import anonymous_token, anonymous_token_valid

    with app.test_request_context():
        now = 1_900_000_000
        assert anonymous_token_valid(anonymous_token(now), now)
        limit = app.config["WTF_CSRF_TIME_LIMIT"]
        assert not anonymous_token_valid(anonymous_token(now - limit - 7200), now)
        bucket, signature = anonymous_token(now)[5:].split(".")
        assert not anonymous_token_valid(f"anon.{bucket}.{'0' * 32}", now)
        assert not anonymous_token_valid(f"anon.{'9' * 40}.{signature}", now)
        assert not anonymous_token_valid("anon.١٢.x", now)
        assert not anonymous_token_valid(f"anon.{bucket}.{'é' * 32}", now)  # not a 500
        assert anonymous_token_valid(anonymous_token(now + 3600), now)  # a clock a bit ahead
        assert not anonymous_token_valid(anonymous_token(now + 7200), now)


def test_product_page_query_count_is_small(client, shirt, count_queries):
    client.get("/")  # warm the category tree
    before = count_queries.count
    client.get("/products/oxford-shirt")
    assert count_queries.count - before <= 6  # product, variants, images; related x3


def test_home_page_lists_categories_and_products(client, shirt):
    html = client.get("/").get_data(as_text=True)
    assert "Shop by category" in html and 'href="/c/clothing"' in html
    assert "Oxford Shirt" in html
    assert 'aria-label="Categories"' in html  # header navigation


def test_sitemap_and_robots(client, shirt):
    index = client.get("/sitemap.xml")
    assert index.mimetype == "application/xml"
    assert "http://localhost/sitemap-products-1.xml" in index.get_data(as_text=True)
    products = client.get("/sitemap-products-1.xml").get_data(as_text=True)
    assert "http://localhost/products/oxford-shirt" in products
    categories = client.get("/sitemap-categories.xml").get_data(as_text=True)
    assert "http://localhost/c/clothing/men" in categories
    robots = client.get("/robots.txt").get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in robots and "Disallow: /admin" in robots
    assert client.get("/sitemap-products-0.xml").status_code == 404

import json
import re

import pytest

from app.catalog.services import VariantInput, set_product_status, set_variant_price
from app.db import commit_unit_of_work
from tests.catalog import factories


@pytest.fixture
def shirt(db):
    men = factories.category("Men", factories.category("Clothing"))
    product = factories.product(
        "Oxford Shirt",
        category=men,
        brand="Kestrel",
        description_html="<p>Crisp <b>cotton</b>.</p><script>alert(1)</script>",
        attributes={"material": "cotton"},
        variants=[
            VariantInput(sku="OX-S", price=4500, options={"size": "S"}, stock=0),
            VariantInput(sku="OX-M", price=4500, options={"size": "M"}, stock=3),
            VariantInput(
                sku="OX-XL", price=4900, options={"size": "XL"}, stock=40, compare_at_price=5900
            ),
        ],
    )
    factories.product("Flannel Shirt", category=men)
    commit_unit_of_work()
    return product


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
    first = client.get("/products/oxford-shirt")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert first.headers["Last-Modified"]
    again = client.get("/products/oxford-shirt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    set_variant_price(shirt.variants[0], 4000)
    commit_unit_of_work()
    changed = client.get("/products/oxford-shirt", headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_cached_pages_carry_each_visitors_own_csrf_token(app, shirt):
    def token(client):
        html = client.get("/products/oxford-shirt").get_data(as_text=True)
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    alice, bob = app.test_client(), app.test_client()
    assert token(alice) != token(bob)


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

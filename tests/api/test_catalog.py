"""Public catalog: category tree, listings with cursor pages, product detail, ETags."""

from __future__ import annotations

import base64
import json

import pytest

from app.catalog.models import ProductImage
from app.catalog.services import VariantInput
from tests.catalog import factories


@pytest.fixture
def catalog(db):
    clothing = factories.category("Clothing")
    shirts = factories.category("Shirts", clothing)
    books = factories.category("Books")
    made = [
        factories.product(f"Shirt {i}", price=1000 + i * 100, category=shirts, stock=i % 3)
        for i in range(7)
    ]
    made.append(factories.product("Novel", price=900, category=books))
    made.append(factories.product("Secret draft", status="draft", category=books))
    db.session.flush()
    return {"clothing": clothing, "shirts": shirts, "books": books, "products": made}


def walk(client, url: str) -> list[dict]:
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        pages += 1
        assert pages < 50
        cursor = body["next_cursor"]
        url = f"/api/v1/products?cursor={cursor}" if cursor else ""
    return items


def test_category_tree_is_nested(client, catalog):
    body = client.get("/api/v1/categories").get_json()
    names = {c["name"]: c for c in body["items"]}
    assert set(names) == {"Clothing", "Books"}
    assert [c["name"] for c in names["Clothing"]["children"]] == ["Shirts"]
    assert names["Clothing"]["children"][0]["slug_path"] == "clothing/shirts"


def test_cursor_pagination_walks_everything_once(client, catalog):
    items = walk(client, "/api/v1/products?limit=3")
    slugs = [i["slug"] for i in items]
    assert len(slugs) == 8 == len(set(slugs))
    assert "secret-draft" not in slugs
    first = client.get("/api/v1/products?limit=3").get_json()
    assert first["total"] == 8 and len(first["items"]) == 3


def test_filters_and_sort_match_the_storefront(client, catalog):
    body = client.get("/api/v1/products?category=clothing&sort=price&limit=100").get_json()
    prices = [i["price_min"] for i in body["items"]]
    assert len(prices) == 7 and prices == sorted(prices)
    cheap = client.get("/api/v1/products?max_price=10.50").get_json()
    assert {i["name"] for i in cheap["items"]} == {"Novel", "Shirt 0"}
    stocked = client.get("/api/v1/products?in_stock=1&category=clothing").get_json()
    assert all(i["in_stock"] for i in stocked["items"]) and stocked["total"] < 7
    found = client.get("/api/v1/products?q=novel").get_json()
    assert [i["name"] for i in found["items"]] == ["Novel"]
    walked = walk(client, "/api/v1/products?category=clothing&sort=-price&limit=2")
    assert [i["price_min"] for i in walked] == sorted(
        (i["price_min"] for i in walked), reverse=True
    )


@pytest.mark.parametrize(
    "query",
    [
        "cursor=%%%",
        "cursor=bm90IGpzb24",
        "cursor=" + base64.urlsafe_b64encode(b'{"o": -3, "l": 3}').decode(),
        "cursor=" + base64.urlsafe_b64encode(b'{"o": 4, "l": 3}').decode(),
        "cursor=" + base64.urlsafe_b64encode(b'{"o": "1", "l": 3}').decode(),
        "cursor=" + base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "cursor=" + base64.urlsafe_b64encode(json.dumps({"o": 10**9, "l": 1}).encode()).decode(),
    ],
)
def test_malformed_cursor_is_a_400(client, catalog, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid-cursor"


@pytest.mark.parametrize("query", ["limit=0", "limit=10000", "limit=abc", "limit=-1"])
def test_bad_limit_is_a_422(client, catalog, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 422
    assert "limit" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "query",
    [
        "min_price=abc",
        "max_price=-5",
        "min_price=50&max_price=1",
        "sort=bogus",
        "q=%22%2A(",
        "in_stock=maybe",
        "category=does/not/exist",
        "min_price=1e400",
        "q=" + "x" * 500,
    ],
)
def test_bad_filters_are_ignored_or_clamped(client, catalog, query):
    response = client.get(f"/api/v1/products?{query}")
    assert response.status_code == 200
    assert isinstance(response.get_json()["items"], list)


def test_ignored_filters_are_explained(client, catalog):
    body = client.get("/api/v1/products?min_price=abc").get_json()
    assert body["total"] == 8
    assert body["notices"] and "not an amount" in body["notices"][0]
    second = client.get("/api/v1/products").get_json()
    assert second["total"] == 8 and second["notices"] == []  # a notice is never shared


def test_product_detail(client, catalog):
    product = factories.product(
        "Oxford Shirt",
        category=catalog["shirts"],
        variants=[
            VariantInput(sku="OX-S", price=4500, options={"size": "S"}, stock=2),
            VariantInput(sku="OX-M", price=4700, options={"size": "M"}, stock=0),
        ],
    )
    body = client.get(f"/api/v1/products/{product.slug}").get_json()
    assert body["name"] == "Oxford Shirt"
    assert body["category"] == "clothing/shirts"
    variants = {v["sku"]: v for v in body["variants"]}
    assert variants["OX-S"] == {
        "id": variants["OX-S"]["id"],
        "sku": "OX-S",
        "options": {"size": "S"},
        "price": 4500,
        "compare_at_price": None,
        "currency": "EUR",
        "available": 2,
        "in_stock": True,
    }
    assert variants["OX-M"]["in_stock"] is False
    assert body["images"] == []


def test_product_images_have_rendition_urls(client, db, catalog):
    product = catalog["products"][0]
    image = ProductImage(product_id=product.id, storage_key="ab/cdef", width=800, height=600)
    db.session.add(image)
    db.session.flush()
    body = client.get(f"/api/v1/products/{product.slug}").get_json()
    urls = body["images"][0]["urls"]
    assert set(urls) == {f"{s}.{e}" for s in ("thumb", "medium", "large") for e in ("webp", "jpg")}
    assert all(u.startswith(("/", "http")) for u in urls.values())


def test_draft_and_unknown_products_are_404(client, catalog):
    for slug in ("secret-draft", "no-such-product"):
        response = client.get(f"/api/v1/products/{slug}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "url", ["/api/v1/categories", "/api/v1/products?limit=2", "/api/v1/products/shirt-0"]
)
def test_etag_revalidation(client, catalog, url):
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


@pytest.mark.parametrize("limit", [" 5", "+5", "5.0", "1_0"])
def test_list_limit_must_be_a_plain_integer(client, db, limit):
    response = client.get("/api/v1/products", query_string={"limit": limit})
    assert response.status_code == 422
    assert "limit" in response.get_json()["errors"]


def test_listing_is_shared_but_follows_catalog_changes(client, db, catalog):
    from app.catalog.services import set_product_status
    from app.db import commit_unit_of_work

    commit_unit_of_work()
    first = client.get("/api/v1/products?limit=100").get_json()
    assert "Secret draft" not in {p["name"] for p in first["items"]}
    assert client.get("/api/v1/products?limit=100").get_json() == first  # served again
    set_product_status(catalog["products"][-1], "published")
    commit_unit_of_work()  # the catalog version moves after the commit
    after = client.get("/api/v1/products?limit=100").get_json()
    assert "Secret draft" in {p["name"] for p in after["items"]}
    assert after["total"] == first["total"] + 1

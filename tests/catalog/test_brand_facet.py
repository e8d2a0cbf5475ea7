"""The brand facet: counts under the other filters, one click to narrow, one to widen again."""

from __future__ import annotations

import re

import pytest

from app.db import commit_unit_of_work
from tests.catalog import factories


def names(html: str) -> list[str]:
    return sorted(re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html))


def brand_facet(html: str) -> list[str]:
    nav = html.split('id="brand-facet-title"')[1].split("</nav>")[0]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li>(.*?)</li>", nav, re.S)
    ]


@pytest.fixture
def catalog(db):
    coats = factories.category("Coats")
    for name in ("Waxed Jacket", "Quilted Jacket", "Wool Scarf"):
        factories.product(name, brand="Northwind", category=coats)
    factories.product("Denim Jacket", brand="Bluewater", category=coats)
    factories.product("Linen Shirt", brand="Bluewater")
    factories.product("Plain Mug")  # no brand: not a facet value
    commit_unit_of_work()


def test_the_listing_offers_brands_with_counts_and_narrows_by_one(client, catalog):
    html = client.get("/products").get_data(as_text=True)
    assert brand_facet(html) == ["Northwind (3)", "Bluewater (2)"]
    link = re.search(r'<a href="([^"]+)">Bluewater', html).group(1).replace("&amp;", "&")
    narrowed = client.get(link).get_data(as_text=True)
    assert names(narrowed) == ["Denim Jacket", "Linen Shirt"]
    # The other brands stay on offer, with what choosing them would give.
    assert brand_facet(narrowed) == [
        "Northwind (3)",
        "Bluewater (2) ✕ show every brand",
    ]
    assert 'aria-current="true"' in narrowed.split('id="brand-facet-title"')[1]


def test_the_facet_follows_the_search_and_the_category(client, catalog):
    html = client.get("/products?q=jacket").get_data(as_text=True)
    assert brand_facet(html) == ["Northwind (2)", "Bluewater (1)"]
    both = client.get("/c/coats?q=jacket&brand=Bluewater").get_data(as_text=True)
    assert names(both) == ["Denim Jacket"]


def test_an_unknown_brand_is_shown_chosen_with_a_way_back(client, catalog):
    html = client.get("/products?brand=Nobody").get_data(as_text=True)
    assert names(html) == []
    facet = brand_facet(html)
    assert facet[0] == "Nobody ✕ show every brand"
    back = re.search(r'<a href="([^"]+)" aria-current="true">Nobody', html).group(1)
    assert "brand=" not in back


@pytest.mark.parametrize("brand", ["x" * 5000, "１２３", "<script>", "Northwind%", "' OR 1=1"])
def test_hostile_brand_values_give_a_normal_page(client, catalog, brand):
    response = client.get("/products", query_string={"brand": brand})
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("<main")[1]


def test_the_api_filters_by_brand_and_returns_the_facet(client, catalog):
    body = client.get("/api/v1/products").get_json()
    assert body["brands"] == [
        {"name": "Northwind", "count": 3},
        {"name": "Bluewater", "count": 2},
    ]
    only = client.get("/api/v1/products?brand=Northwind").get_json()
    assert sorted(item["name"] for item in only["items"]) == [
        "Quilted Jacket",
        "Waxed Jacket",
        "Wool Scarf",
    ]
    assert only["total"] == 3

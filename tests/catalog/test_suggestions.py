"""Search suggestions: the header combobox's fragment and the API's list, from one function."""

from __future__ import annotations

import re

import pytest

from app.db import commit_unit_of_work
from tests.catalog import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def catalog(db):
    coats = factories.category("Jackets")
    factories.product("Waxed Field Jacket", category=coats, brand="Northwind", price=12900)
    factories.product("Denim Jacket", category=coats, brand="Bluewater", price=8900)
    factories.product("Merino Wool Jumper", brand="Northwind", price=8900)
    factories.product("Secret Jacket", status="draft", brand="Hidden Label")
    commit_unit_of_work()


def options(html: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", label).split())
        for label in re.findall(r'<a role="option"[^>]*>(.*?)</a>', html, re.S)
    ]


def test_typing_suggests_products_categories_and_brands(client, catalog):
    html = client.get("/search/suggestions?q=jack", headers=HX).get_data(as_text=True)
    assert options(html) == ["Denim Jacket €89.00", "Waxed Field Jacket €129.00", "Jackets"]
    assert 'aria-label="Products"' in html and 'aria-label="Categories"' in html
    ids = re.findall(r'role="option" id="(suggestion-\d+)"', html)
    assert ids == ["suggestion-0", "suggestion-1", "suggestion-2"]  # unique, in order
    assert 'href="/c/jackets"' in html


def test_a_brand_is_suggested_by_any_of_its_words_and_drafts_never(client, catalog):
    html = client.get("/search/suggestions?q=north", headers=HX).get_data(as_text=True)
    assert "Northwind" in options(html)
    assert 'href="/products?q=Northwind"' in html
    hidden = client.get("/search/suggestions?q=secret", headers=HX).get_data(as_text=True)
    assert options(hidden) == []
    assert (
        options(client.get("/search/suggestions?q=hidden", headers=HX).get_data(as_text=True)) == []
    )


@pytest.mark.parametrize("query", ["", "j", "   ", "%%%", "ab" * 400, "１２", "ｊａｃｋ" * 80])
def test_short_or_hostile_input_suggests_nothing_calmly(client, catalog, query):
    response = client.get("/search/suggestions", query_string={"q": query}, headers=HX)
    assert response.status_code == 200
    assert options(response.get_data(as_text=True)) == []


def test_a_nul_byte_is_refused_like_everywhere_else(client, catalog):
    response = client.get("/search/suggestions", query_string={"q": "ja\x00ck"}, headers=HX)
    assert response.status_code == 400


def test_without_javascript_the_url_is_the_search_itself(client, catalog):
    response = client.get("/search/suggestions?q=jack")
    assert response.status_code == 302
    assert response.headers["Location"] == "/products?q=jack"
    assert client.get("/search/suggestions").headers["Location"] == "/products"


def test_without_javascript_the_header_search_is_a_plain_search_field(client, catalog):
    """The combobox roles are set by shop.js, which can open the list; the Playwright journey
    checks them. Without it a screen reader must not hear of a list that never opens."""
    html = client.get("/").get_data(as_text=True)
    field = re.search(r'<input id="site-search-q"[^>]*>', html, re.S).group(0)
    assert 'type="search"' in field and 'name="q"' in field and 'autocomplete="off"' in field
    assert "role=" not in field and "aria-expanded" not in field
    assert '<div id="search-suggestions" class="suggestions" role="listbox"' in html
    assert re.search(r'id="search-suggestions"[^>]*hidden', html)


def test_the_api_suggests_the_same(client, catalog):
    body = client.get("/api/v1/search/suggestions?q=jack").get_json()
    assert [p["name"] for p in body["products"]] == ["Denim Jacket", "Waxed Field Jacket"]
    assert body["products"][0]["price_min"] == 8900 and body["products"][0]["currency"]
    assert body["categories"] == [{"name": "Jackets", "path": "jackets"}]
    assert client.get("/api/v1/search/suggestions?q=north").get_json()["brands"] == ["Northwind"]
    empty = client.get("/api/v1/search/suggestions?q=j").get_json()
    assert empty == {"query": "j", "products": [], "categories": [], "brands": []}
    too_long = client.get("/api/v1/search/suggestions?q=" + "x" * 501)
    assert too_long.status_code == 422
    assert too_long.headers["Content-Type"] == "application/problem+json"

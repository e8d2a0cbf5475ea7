"""Search that forgives: plurals and other forms of a word (stemming, both databases), and a
misspelt word corrected against the catalog's own words, saying so on the page and in the API."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.catalog.models import SearchWord
from app.catalog.search import _distance, correct, refresh_vocabulary
from app.db import commit_unit_of_work
from tests.catalog import factories


def names(html: str) -> list[str]:
    return sorted(re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html))


JACKETS = ["Denim Jacket", "Quilted Jacket", "Waxed Cotton Jacket"]


@pytest.fixture
def catalog(db):
    coats = factories.category("Jackets")
    knitwear = factories.category("Knitwear")
    for name in JACKETS:
        factories.product(name, category=coats)
    factories.product("Merino Wool Jumper", category=knitwear, brand="Northwind")
    factories.product("Chunky Wool Scarf", category=knitwear)
    factories.product("Running Shoes", description_html="<p>For runners who run far.</p>")
    factories.product("Jaket Draft", status="draft")  # unpublished: not a word to correct to
    refresh_vocabulary()
    commit_unit_of_work()


@pytest.mark.parametrize("query", ["jacket", "Jackets", "JACKETS", "jacket "])
def test_singular_and_plural_find_the_same_jackets(client, catalog, query):
    html = client.get("/products", query_string={"q": query}).get_data(as_text=True)
    assert names(html) == JACKETS
    assert "Showing results for" not in html


def test_a_plural_finds_the_singular_and_other_forms_of_a_word(client, catalog):
    wools = client.get("/products?q=wools").get_data(as_text=True)
    assert names(wools) == ["Chunky Wool Scarf", "Merino Wool Jumper"]
    run = client.get("/products?q=run").get_data(as_text=True)
    assert names(run) == ["Running Shoes"]
    # Half-typed words still find what they begin, although the index holds stems ("run").
    for partial in ("runn", "runni", "runnin", "jack", "wo"):
        html = client.get("/products", query_string={"q": partial}).get_data(as_text=True)
        assert names(html), partial
        assert "Showing results for" not in html, partial


def test_a_misspelt_word_is_corrected_and_the_page_says_so(client, catalog):
    html = client.get("/products?q=jaket").get_data(as_text=True)
    assert names(html) == JACKETS
    assert "Showing results for <strong>jacket</strong>" in html
    link = re.search(r'<a href="([^"]+)">search instead for “jaket”</a>', html)
    assert link is not None and "as_typed=1" in link.group(1)
    as_typed = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert names(as_typed) == []
    assert "No products match “jaket”" in as_typed
    assert "Showing results for" not in as_typed


def test_swapped_letters_and_two_words_are_corrected(client, catalog):
    html = client.get("/products?q=meirno+wooll").get_data(as_text=True)
    assert names(html) == ["Merino Wool Jumper"]
    assert "Showing results for <strong>merino wool</strong>" in html


def test_the_api_says_what_it_searched_for(client, catalog):
    body = client.get("/api/v1/products?q=jaket").get_json()
    assert body["total"] == 3 and body["searched_for"] == "jacket"
    exact = client.get("/api/v1/products?q=jaket&as_typed=1").get_json()
    assert exact["total"] == 0 and exact["searched_for"] is None
    plain = client.get("/api/v1/products?q=jacket").get_json()
    assert plain["total"] == 3 and plain["searched_for"] is None


def test_what_cannot_be_corrected_stays_an_honest_empty_result(client, catalog):
    for query in ["xylophone", "tee", "12345"]:
        html = client.get("/products", query_string={"q": query}).get_data(as_text=True)
        assert names(html) == [] and "Showing results for" not in html
    # Both words are known, but no product has both: nothing to correct.
    assert correct("denim wool") is None


def test_the_vocabulary_follows_published_names_brands_and_categories(db, catalog):
    assert correct("northwnd") == "northwind"
    assert correct("knitwaer") == "knitwear"
    assert correct("jaket") == "jacket"  # not the draft's "Jaket"
    words = set(db.session.execute(sa.select(SearchWord.word)).scalars())
    assert "jaket" not in words and "draft" not in words  # a draft's words are not offered
    assert {"jacket", "jackets", "northwind", "knitwear", "wool"} <= words


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("jaket", "jacket", 1), ("jakcet", "jacket", 1), ("wool", "wool", 0), ("abc", "xyz", 3)],
)
def test_edit_distance_counts_a_swap_as_one_edit(a, b, expected):
    assert _distance(a, b, 2) == min(expected, 3)


def test_a_name_with_the_word_as_typed_ranks_above_its_other_forms(client, db):
    factories.product("Denim Jacket")
    factories.product("Two Jackets Gift Set")
    factories.product("Jacketed Mug", description_html="<p>Jackets for mugs.</p>")
    commit_unit_of_work()
    plural = names_in_order(client.get("/products?q=jackets").get_data(as_text=True))
    assert plural[0] == "Two Jackets Gift Set"
    singular = names_in_order(client.get("/products?q=jacket").get_data(as_text=True))
    assert singular[0] == "Denim Jacket"  # the whole word, not "Jacketed" nor "Jackets"
    assert sorted(singular) == ["Denim Jacket", "Jacketed Mug", "Two Jackets Gift Set"]
    assert client.get("/api/v1/products?q=jackets").get_json()["items"][0]["name"] == (
        "Two Jackets Gift Set"
    )


def names_in_order(html: str) -> list[str]:
    return re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html)

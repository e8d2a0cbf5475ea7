import re
import time

import pytest

from app.catalog.services import VariantInput
from app.db import commit_unit_of_work
from tests.catalog import factories


def names(html: str) -> list[str]:
    return re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html)


def results_heading(html: str) -> str:
    match = re.search(r'<h2 id="results-count"[^>]*>(.*?)</h2>', html, re.S)
    return " ".join(match.group(1).split())


@pytest.fixture
def catalog(db):
    clothing = factories.category("Clothing")
    shirts = factories.category("Shirts", factories.category("Men", clothing))
    home = factories.category("Home")
    made = {
        "shirt": factories.product(
            "Oxford Cotton Shirt",
            price=4500,
            category=shirts,
            description_html="<p>Crisp cotton, button-down collar.</p>",
        ),
        "jumper": factories.product(
            "Merino Wool Jumper", price=8900, category=clothing, brand="Northwind"
        ),
        "lamp": factories.product("Oak Table Lamp", price=12000, category=home, stock=0),
        "mug": factories.product(
            "Stoneware Mug",
            price=1500,
            category=home,
            description_html="<p>Holds coffee and wool-free tea.</p>",
        ),
        "draft": factories.product(
            "Secret Wool Scarf", price=3000, category=clothing, status="draft"
        ),
        "archived": factories.product(
            "Old Wool Hat", price=2000, category=clothing, status="archived"
        ),
    }
    commit_unit_of_work()
    return made


def test_listing_shows_only_published_products(client, catalog):
    html = client.get("/products").get_data(as_text=True)
    assert sorted(names(html)) == [
        "Merino Wool Jumper",
        "Oak Table Lamp",
        "Oxford Cotton Shirt",
        "Stoneware Mug",
    ]
    assert results_heading(html) == "4 products"


def test_search_ranks_name_matches_first_and_ignores_unpublished(client, catalog):
    html = client.get("/products?q=wool").get_data(as_text=True)
    assert names(html) == ["Merino Wool Jumper", "Stoneware Mug"]
    assert results_heading(html) == "2 products for “wool”"


def test_search_matches_word_prefixes_and_brand(client, catalog):
    assert names(client.get("/products?q=merin").get_data(as_text=True)) == ["Merino Wool Jumper"]
    assert names(client.get("/products?q=northwind").get_data(as_text=True)) == [
        "Merino Wool Jumper"
    ]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "AND OR (",
        "*",
        "NEAR/",
        "wool)",
        '"unterminated',
        "-wool",
        "a:b",
        "'; DROP TABLE x;--",
        "%",
        "_",
        "\\",
        "(((",
        "NOT",
        "x" * 500,
    ],
)
def test_hostile_search_strings_give_a_normal_page(client, catalog, query):
    response = client.get("/products", query_string={"q": query})
    assert response.status_code == 200
    assert re.match(r"\d+ products?", results_heading(response.get_data(as_text=True)))


def test_category_filter_includes_descendants(client, catalog):
    html = client.get("/products?category=clothing").get_data(as_text=True)
    assert sorted(names(html)) == ["Merino Wool Jumper", "Oxford Cotton Shirt"]
    page = client.get("/c/clothing").get_data(as_text=True)
    assert sorted(names(page)) == ["Merino Wool Jumper", "Oxford Cotton Shirt"]
    assert names(client.get("/c/clothing/men/shirts").get_data(as_text=True)) == [
        "Oxford Cotton Shirt"
    ]


def test_unknown_category_is_404_on_its_page_and_empty_as_a_filter(client, catalog):
    assert client.get("/c/no-such-thing").status_code == 404
    html = client.get("/products?category=no-such-thing").get_data(as_text=True)
    assert results_heading(html) == "0 products"


def test_price_and_stock_filters(client, catalog):
    html = client.get("/products?min_price=20&max_price=100").get_data(as_text=True)
    assert sorted(names(html)) == ["Merino Wool Jumper", "Oxford Cotton Shirt"]
    html = client.get("/products?in_stock=1&category=home").get_data(as_text=True)
    assert names(html) == ["Stoneware Mug"]


def test_min_above_max_is_swapped_with_a_message(client, catalog):
    html = client.get("/products?min_price=100&max_price=20").get_data(as_text=True)
    assert sorted(names(html)) == ["Merino Wool Jumper", "Oxford Cotton Shirt"]
    assert "we swapped them" in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["Stoneware Mug", "Oxford Cotton Shirt", "Merino Wool Jumper", "Oak Table Lamp"]),
        (
            "-price",
            ["Oak Table Lamp", "Merino Wool Jumper", "Oxford Cotton Shirt", "Stoneware Mug"],
        ),
        ("name", ["Merino Wool Jumper", "Oak Table Lamp", "Oxford Cotton Shirt", "Stoneware Mug"]),
        (
            "newest",
            ["Stoneware Mug", "Oak Table Lamp", "Merino Wool Jumper", "Oxford Cotton Shirt"],
        ),
    ],
)
def test_sort_orders(client, catalog, sort, expected):
    assert names(client.get(f"/products?sort={sort}").get_data(as_text=True)) == expected


@pytest.mark.parametrize(
    "query",
    [
        "page=-1",
        "page=abc",
        "page=0",
        "per_page=100000",
        "per_page=-5",
        "min_price=abc",
        "max_price=1e999",
        "min_price=-5",
        "sort=evil",
        "in_stock=maybe",
        "page=99999999999999999999",
    ],
)
def test_bad_parameters_give_a_normal_page(client, catalog, query):
    response = client.get(f"/products?{query}")
    assert response.status_code == 200


def test_bad_numbers_are_explained(client, catalog):
    html = client.get("/products?min_price=abc&sort=evil").get_data(as_text=True)
    assert "Minimum price is not an amount like 25 or 12.50, so it was ignored." in html
    assert "That sort order is not available" in html


@pytest.mark.parametrize("value", ["1e999997", "1e999999999", "٣", "²", "9" * 30, "NaN"])
def test_exponents_and_foreign_digits_are_ignored_at_once(client, catalog, value):
    started = time.perf_counter()
    for url in (f"/products?min_price={value}", f"/c/clothing?max_price={value}&page={value}"):
        response = client.get(url)
        assert response.status_code == 200
        assert "price is not an amount like 25 or 12.50" in response.get_data(as_text=True)
    assert time.perf_counter() - started < 1


def test_a_visitors_bad_filter_text_never_reaches_other_visitors(app, client, catalog):
    """The results are cached per normalised filters; a notice belongs to one request."""
    first = client.get("/products?min_price=Visit+evil.example").get_data(as_text=True)
    results = first[first.index('<section id="results"') :]
    assert "evil.example" not in results
    assert "Minimum price is not an amount" in first
    for other in (app.test_client(), client):
        html = other.get("/products").get_data(as_text=True)
        assert "Minimum price" not in html
        htmx = other.get("/products", headers={"HX-Request": "true", "HX-Target": "results"})
        assert "Minimum price" not in htmx.get_data(as_text=True)


def test_pagination(client, db):
    for i in range(30):
        factories.product(f"Pen {i:02d}", price=100 + i)
    commit_unit_of_work()
    first = client.get("/products?sort=price").get_data(as_text=True)
    assert len(names(first)) == 24
    assert "Page 1 of 2" in first and 'rel="next" href="/products?sort=price&amp;page=2"' in first
    second = client.get("/products?sort=price&page=2").get_data(as_text=True)
    assert names(second) == [f"Pen {i:02d}" for i in range(24, 30)]
    beyond = client.get("/products?sort=price&page=50").get_data(as_text=True)
    assert names(beyond) == []
    big = client.get("/products?per_page=100000").get_data(as_text=True)
    assert len(names(big)) == 30  # clamped to 96


def test_empty_results_suggest_removing_filters(client, catalog):
    html = client.get("/products?q=unicorn").get_data(as_text=True)
    assert "No products match “unicorn”" in html
    assert "clear all filters" in html


def category_facets(html: str) -> list[tuple[str, str]]:
    nav = html.split('aria-label="Narrow by category"')[1].split("</nav>")[0]
    return re.findall(r'>(\w+) <span class="facet-count">\((\d+)\)</span>', nav)


def test_facet_counts_follow_the_search(client, catalog):
    html = client.get("/products?q=wool").get_data(as_text=True)
    assert category_facets(html) == [("Clothing", "1"), ("Home", "1")]
    html = client.get("/c/clothing").get_data(as_text=True)
    assert category_facets(html) == [("Men", "1")]


def test_htmx_filter_request_returns_only_the_results(client, catalog):
    response = client.get(
        "/products?q=wool", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html and 'id="filters"' not in html
    assert "HX-Request" in response.headers["Vary"]
    # The full page includes the same partial, so markup exists once.
    full = client.get("/products?q=wool").get_data(as_text=True)
    assert html.strip() in full


def test_history_restore_gets_the_full_page(client, catalog):
    response = client.get(
        "/products?q=wool",
        headers={
            "HX-Request": "true",
            "HX-Target": "results",
            "HX-History-Restore-Request": "true",
        },
    )
    assert "<html" in response.get_data(as_text=True)


def test_listing_query_count_does_not_grow_with_page_size(
    app, client, db, count_queries, monkeypatch
):
    # Search statistics are tallied in memory and stored by a task every 30 s in production;
    # here the tally is held, so only the listing's own queries are counted.
    monkeypatch.setitem(app.config, "SEARCH_STATS_FLUSH_SECONDS", 3600)
    for i in range(100):
        factories.product(
            f"Bulk {i}",
            variants=[
                VariantInput(sku=f"BULK-{i}-{j}", price=1000 + j, options={"n": j}, stock=1)
                for j in range(3)
            ],
        )
    commit_unit_of_work()
    # Loads the (then cached) category tree, synonyms and the completions of "bulk".
    client.get("/products?q=bulk&sort=name")
    counts = []
    for per_page in (24, 96):
        before = count_queries.count
        response = client.get(f"/products?per_page={per_page}&q=bulk")
        assert response.status_code == 200
        counts.append(count_queries.count - before)
    assert counts[0] == counts[1]
    assert counts[0] <= 7  # count, category and brand facets, page ids, products, images, variants
    # A cached listing issues no catalog queries at all.
    before = count_queries.count
    client.get("/products?per_page=96&q=bulk")
    assert count_queries.count - before == 0

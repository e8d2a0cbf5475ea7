"""Whole pages from the cache for anonymous visitors: as fresh as the catalog, never personal."""

from __future__ import annotations

import re

import pytest

from app.catalog.services import set_variant_price
from app.db import commit_unit_of_work
from tests.accounts.helpers import login, make_user
from tests.checkout.helpers import add_to_cart

PAGES = ["/", "/products", "/products?q=oxford", "/c/clothing/men", "/products/oxford-shirt"]


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_page_comes_from_the_cache_without_a_query(
    app, shirt, count_queries, monkeypatch, path
):
    from app.catalog import search_stats

    # The statistics' own flush (a task) is not the page's work: hold it for this test.
    monkeypatch.setitem(app.config, "SEARCH_STATS_FLUSH_SECONDS", 3600)
    monkeypatch.setattr(search_stats, "_pending", search_stats.Counter())
    first = app.test_client().get(path)
    before = count_queries.count
    again = app.test_client().get(path)
    assert count_queries.count == before  # no template, no database: the stored page
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in again.headers
    revalidated = app.test_client().get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304


def test_a_price_change_reaches_the_cached_page_at_once(app, shirt):
    assert "€45.00" in app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    for variant in shirt.variants:
        set_variant_price(variant, 3900)
    commit_unit_of_work()
    page = app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    assert "€39.00" in page and "€45.00" not in page


def test_visitors_with_a_session_get_their_own_page_and_never_store_it(app, shirt):
    guest = app.test_client()
    add_to_cart(guest, shirt.variants[1].id, 2)
    mine = guest.get("/products").get_data(as_text=True)
    assert re.search(r'badge-count">2<', mine)
    # A cookieless visitor after them sees an empty cart, not theirs.
    other = app.test_client().get("/products").get_data(as_text=True)
    assert re.search(r'badge-count">0<', other)
    # And the guest still sees their own after the anonymous page was stored.
    assert re.search(r'badge-count">2<', guest.get("/products").get_data(as_text=True))


def test_a_signed_in_customer_never_gets_or_leaves_a_shared_page(app, db, shirt):
    make_user()
    commit_unit_of_work()
    ada = app.test_client()
    login(ada)
    page = ada.get("/products").get_data(as_text=True)
    assert "Sign out" in page
    assert "Sign out" not in app.test_client().get("/products").get_data(as_text=True)
    assert "Sign out" in ada.get("/products").get_data(as_text=True)


def test_htmx_requests_are_not_served_whole_pages(app, shirt):
    app.test_client().get("/products")
    partial = app.test_client().get(
        "/products?sort=price", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert partial.status_code == 200 and "<html" not in partial.get_data(as_text=True)


def test_a_cached_search_still_counts_in_the_statistics(app, shirt, monkeypatch):
    from app.catalog import page_cache, views

    counted = []
    monkeypatch.setattr(views, "record_search", lambda q, total: counted.append((q, total)))
    monkeypatch.setattr(page_cache, "record_search", lambda q, total: counted.append((q, total)))
    for _ in range(3):
        assert app.test_client().get("/products?q=oxford").status_code == 200
    assert counted == [("oxford", 1)] * 3

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


def test_htmx_requests_neither_get_nor_leave_whole_pages(app, shirt):
    htmx = {"HX-Request": "true", "HX-Target": "results"}
    partial = app.test_client().get("/products?sort=price", headers=htmx)
    assert "<html" not in partial.get_data(as_text=True)  # not stored as the page ...
    assert "<html" in app.test_client().get("/products?sort=price").get_data(as_text=True)
    again = app.test_client().get("/products?sort=price", headers=htmx)  # ... nor served
    assert "<html" not in again.get_data(as_text=True)


def test_a_forged_host_only_ever_gets_its_own_copy(app, shirt):
    forged = app.test_client().get("/c/clothing/men", headers={"Host": "evil.example"})
    assert "http://evil.example/c/clothing/men" in forged.get_data(as_text=True)
    page = app.test_client().get("/c/clothing/men").get_data(as_text=True)
    assert "evil.example" not in page
    assert 'href="http://localhost/c/clothing/men"' in page


def test_trusted_hosts_refuse_a_forged_host(app, shirt, monkeypatch):
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["localhost"])
    forged = app.test_client().get("/products/oxford-shirt", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    page = app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    assert "evil.example" not in page


def test_unknown_or_repeated_parameters_are_rendered_not_stored(app, shirt, monkeypatch):
    from app.catalog import page_cache

    stored = []
    real = page_cache.cached_set
    monkeypatch.setattr(page_cache, "cached_set", lambda k, v: (stored.append(k), real(k, v)))
    for path in (
        "/products?utm_source=mail",
        "/products?x=1",
        "/products?page=1&page=2",
        "/products/oxford-shirt?foo=bar",
        "/products?q=" + "a" * 600,
    ):
        assert app.test_client().get(path).status_code == 200, path
    assert stored == []
    app.test_client().get("/products?spec=colour:blue&spec=size:m&sort=price")
    app.test_client().get("/products/oxford-shirt?variant=2")
    assert len(stored) == 2


def test_the_listing_names_every_parameter_it_reads():
    import inspect
    import re as regex

    from app.catalog.listing import ListingParams

    source = inspect.getsource(ListingParams.from_args)
    read = set(regex.findall(r'args\.(?:get|getlist)\("([a-z_]+)"', source))
    assert read == {*ListingParams.QUERY_NAMES, "category"}


def test_a_page_that_touched_the_session_is_not_shared(app, shirt, monkeypatch):
    """Whatever a view may do one day (flash, remember something), a page whose request
    wrote to the session is that visitor's: the check is on the outcome, not the view."""
    from flask import session

    from app.catalog import page_cache

    with app.test_request_context("/products"):
        from flask import make_response

        response = make_response("<html></html>")
        response.set_etag("x")
        from flask import g

        g.shared_csrf_page = True
        assert page_cache._shareable(response)
        session["seen"] = True
        assert not page_cache._shareable(response)
        session.clear()
        g.csrf_token = "a session's own token"
        assert not page_cache._shareable(response)
        del g.csrf_token
        response.headers["Set-Cookie"] = "a=b"
        assert not page_cache._shareable(response)


def test_a_cached_search_still_counts_in_the_statistics(app, shirt, monkeypatch):
    from app.catalog import page_cache, views

    counted = []
    monkeypatch.setattr(views, "record_search", lambda q, total: counted.append((q, total)))
    monkeypatch.setattr(page_cache, "record_search", lambda q, total: counted.append((q, total)))
    for _ in range(3):
        assert app.test_client().get("/products?q=oxford").status_code == 200
    assert counted == [("oxford", 1)] * 3


def test_a_sale_keeps_the_navigation_cached_and_shows_the_stock_at_once(
    app, db, shirt, count_queries
):
    """Stock moves with every order of a sale: pages showing stock follow at once, while the
    category tree (which shows none) stays cached; a category's own change reaches it."""
    from app.catalog.categories import update_category
    from app.catalog.models import Category
    from app.inventory.services import adjust_stock

    medium = next(v for v in shirt.variants if v.sku == "OX-M")
    page = app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    assert "Only 3 left" in page
    adjust_stock(medium.id, -2, note="sold in the shop")
    commit_unit_of_work()
    count_queries.statements.clear()
    page = app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    assert "Only 1 left" in page
    assert not [s for s in count_queries.statements if "FROM categories" in s]
    men = db.session.get(Category, shirt.category_id)
    update_category(men, name="Menswear", parent=men.parent)
    commit_unit_of_work()
    page = app.test_client().get("/products/oxford-shirt").get_data(as_text=True)
    assert "Menswear" in page

"""Search statistics for staff: what shoppers search for and what finds nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.catalog import search_stats
from app.catalog.models import SearchStat
from app.db import commit_unit_of_work, utcnow
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories


@pytest.fixture
def catalog(db):
    factories.product("Merino Wool Jumper")
    factories.product("Chunky Wool Scarf")
    commit_unit_of_work()


def stats(db) -> dict[str, tuple[int, int]]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(SearchStat)).scalars()
    return {row.query: (row.searches, row.zero_results) for row in rows}


def test_web_and_api_searches_are_counted_once_per_search(client, db, catalog):
    def typed(url, shown):  # what htmx sends from the filters form
        headers = {"HX-Request": "true", "HX-Target": "results", "HX-Current-URL": shown}
        return client.get(url, headers=headers)

    client.get("/products?q=Wool")  # a submitted search
    typed("/products?q=wool+jumper", "http://localhost/products?q=Wool")  # new words typed
    typed("/products?q=wool&sort=price", "http://localhost/products?q=wool")  # a new sort order
    typed("/products?q=wool&in_stock=1", "http://localhost/products?q=wool&sort=price")
    client.get("/products?q=wool&page=2")  # turning a page is not another search
    client.get("/api/v1/products?q=wool")  # the app's first page
    client.get("/api/v1/products?q=unicorn")  # found nothing
    assert stats(db) == {"wool": (2, 0), "wool jumper": (1, 0), "unicorn": (1, 1)}


def test_what_looks_personal_is_not_kept(client, db, catalog):
    for query in [
        "ada@example.com",
        "order 12345678",
        "+44 7700 900 123",
        "SS-7K2M-9QXD",
        "where is ss-7k2m-9qxd",
        "0176 123 45 67",
    ]:
        client.get("/products", query_string={"q": query})
    assert stats(db) == {}


def test_tallies_add_up_across_processes_and_old_days_are_forgotten(app, db):
    today = utcnow().date().isoformat()
    search_stats.store([[today, "tee", False, 2], [today, "tee", True, 1]])
    search_stats.store([[today, "tee", False, 4]])  # another instance's tally
    old = (utcnow().date() - timedelta(days=91)).isoformat()
    search_stats.store([[old, "tee", True, 1]])
    commit_unit_of_work()
    rows = db.session.execute(
        sa.select(SearchStat.day, SearchStat.searches, SearchStat.zero_results).order_by(
            SearchStat.day
        )
    ).all()
    assert [(d.isoformat(), s, z) for d, s, z in rows] == [(old, 1, 1), (today, 7, 1)]
    assert search_stats.forget_old() == 1
    commit_unit_of_work()
    assert stats(db) == {"tee": (7, 1)}


def test_staff_see_top_and_zero_result_searches_on_the_dashboard(client, db, catalog):
    for _ in range(3):
        client.get("/products?q=wool")
    client.get("/products?q=jumper")
    for _ in range(2):
        client.get("/products?q=unicorn")
    sign_in_staff(client)
    html = client.get("/admin/").get_data(as_text=True)
    section = html.split('id="searches-title"')[1].split("</section>")[0]
    top, zero = section.split("Searches that found nothing")
    assert top.index(">wool<") < top.index(">unicorn<") < top.index(">jumper<")
    assert ">unicorn<" in zero and ">wool<" not in zero
    assert 'href="/products?q=unicorn"' in zero


def test_a_queue_that_cannot_be_reached_never_fails_the_search(
    client, db, catalog, monkeypatch, caplog
):
    from app.catalog import tasks

    def down(batch):
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(tasks, "store_search_stats", down)
    response = client.get("/products?q=wool")
    assert response.status_code == 200
    assert "Merino Wool Jumper" in response.get_data(as_text=True)
    assert "search statistics not stored (1 searches dropped)" in caplog.text
    assert stats(db) == {}

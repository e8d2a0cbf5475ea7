"""Staff tables cost the same number of queries whatever the number of rows on the page
(no query per row): measured with 2 rows and with 12."""

from __future__ import annotations

import pytest

from app.db import commit_unit_of_work
from tests.accounts.helpers import make_user
from tests.admin.helpers import sign_in_staff
from tests.admin.test_orders import paid_order
from tests.catalog import factories

PAGES = [
    "/admin/products",
    "/admin/inventory",
    "/admin/orders",
    "/admin/customers",
    "/admin/notifications",
    "/admin/audit",
    "/admin/webhook-events",
    "/admin/",
]


def add_rows(start: int, count: int) -> None:
    shelf = factories.category(f"Shelf {start}")
    for i in range(start, start + count):
        factories.product(f"Counted Lamp {i}", category=shelf, stock=2)
        make_user(f"counted-{i}@example.com")
        paid_order(email=f"counted-{i}@example.com")
    commit_unit_of_work()


@pytest.mark.parametrize("path", PAGES)
def test_staff_pages_do_not_query_per_row(client, db, count_queries, path):
    sign_in_staff(client, "admin")

    def cost() -> int:
        before = count_queries.count
        assert client.get(path).status_code == 200
        return count_queries.count - before

    add_rows(0, 2)
    few = cost()
    add_rows(2, 10)
    assert cost() == few, path

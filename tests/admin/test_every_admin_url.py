"""Sweeps over every /admin route in the URL map, so a screen added later is covered too:
visitors and customers get 404 for all of them (no hint the staff area exists), and an admin
never gets a server error from any page, whatever id is in the URL."""

from __future__ import annotations

import pytest
from flask import url_for

from app.db import commit_unit_of_work
from tests.accounts.helpers import csrf_token, login, make_user
from tests.admin.helpers import sign_in_staff
from tests.admin.test_orders import paid_order
from tests.catalog import factories


def admin_rules(app, method: str):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    return sorted((r for r in rules if method in r.methods), key=lambda r: r.rule)


def url_for_rule(app, rule, ids: dict[str, int]) -> str:
    """The rule with every argument filled: the given ids by name, 1, the first of a choice
    (``any``), or "x"."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if type(converter).__name__ == "IdConverter":
            values[name] = ids.get(name, 1)
        elif type(converter).__name__ == "AnyConverter":
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_visitors_and_customers_get_404_on_every_admin_url(app, client, db, method):
    rules = admin_rules(app, method)
    assert len(rules) > 20 if method == "POST" else len(rules) > 15
    make_user("shopper@example.com")
    for signed_in in (False, True):
        if signed_in:
            login(client, "shopper@example.com")
        for rule in rules:
            url = url_for_rule(app, rule, {})
            if method == "GET":
                response = client.get(url)
            else:  # with a valid CSRF token, so the answer is the view's, not the CSRF check's
                response = client.post(url, data={"csrf_token": csrf_token(client)})
            assert response.status_code == 404, (signed_in, method, url, response.status_code)


def test_an_admin_never_gets_a_server_error_from_any_admin_page(app, client, db):
    order = paid_order()
    shirts = factories.category("Shirts")
    product = factories.product("Sweep Shirt", category=shirts, stock=3)
    commit_unit_of_work()
    admin = sign_in_staff(client, "admin")
    ids = {
        "order_id": order.id,
        "product_id": product.id,
        "variant_id": product.variants[0].id,
        "category_id": shirts.id,
        "user_id": admin.id,
    }
    for rule in admin_rules(app, "GET"):
        for chosen in (ids, {name: 2**31 - 1 for name in ids}, {name: 2**40 for name in ids}):
            url = url_for_rule(app, rule, chosen)
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
        assert (
            client.get(url_for_rule(app, rule, ids) + "?page=-1&sort=%00&per_page=x").status_code
            < 500
        )

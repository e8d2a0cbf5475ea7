"""Specification facets: staff choose which specifications shoppers filter by; listings,
searches and the API offer each with counts under the other filters."""

from __future__ import annotations

import re

import pytest

from app.db import commit_unit_of_work
from app.store.settings import update_store_settings
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories


def names(html: str) -> list[str]:
    return sorted(re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html))


def facet(html: str, title: str) -> list[str]:
    start = html.index(f">{title}</p>")
    nav = html[start : html.index("</nav>", start)]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for item in re.findall(r"<li>(.*?)</li>", nav, re.S)
    ]


@pytest.fixture
def catalog(db):
    for name, material in [
        ("Merino Jumper", "Wool"),
        ("Wool Scarf", "Wool"),
        ("Cotton Tee", "Cotton"),
    ]:
        factories.product(name).attributes = {"Material": material, "Fit": "Regular"}
    factories.product("Plain Mug")  # no specifications: not counted
    update_store_settings({"filterable_specifications": ["Material"]})
    commit_unit_of_work()


def test_a_filterable_specification_is_a_facet_that_narrows(client, catalog):
    html = client.get("/products").get_data(as_text=True)
    assert facet(html, "Material") == ["Wool (2)", "Cotton (1)"]
    assert ">Fit</p>" not in html  # not chosen by staff
    link = re.search(r'<a href="([^"]+)">Wool', html).group(1).replace("&amp;", "&")
    assert "spec=Material:Wool" in link.replace("%3A", ":")
    narrowed = client.get(link).get_data(as_text=True)
    assert names(narrowed) == ["Merino Jumper", "Wool Scarf"]
    assert facet(narrowed, "Material") == ["Wool (2) ✕ show every Material", "Cotton (1)"]
    # The filters form keeps the choice when another filter changes.
    assert '<input type="hidden" name="spec" value="Material:Wool">' in narrowed


def test_the_facet_follows_the_search_and_the_api_has_it(client, catalog):
    html = client.get("/products?q=wool").get_data(as_text=True)
    assert facet(html, "Material") == ["Wool (1)"]  # "Wool Scarf": specifications are not searched
    body = client.get("/api/v1/products").get_json()
    assert body["specifications"] == [
        {
            "name": "Material",
            "values": [{"value": "Wool", "count": 2}, {"value": "Cotton", "count": 1}],
        }
    ]
    only = client.get("/api/v1/products?spec=Material:Cotton").get_json()
    assert [item["name"] for item in only["items"]] == ["Cotton Tee"]


@pytest.mark.parametrize(
    "spec", ["Material", ":Wool", 'Mat"erial:Wool', "x" * 500 + ":y", "Material:" + "z" * 5000]
)
def test_hostile_spec_arguments_give_a_normal_page(client, catalog, spec):
    response = client.get("/products", query_string={"spec": spec})
    assert response.status_code == 200


def test_staff_choose_the_filterable_specifications_in_settings(client, db, catalog):
    sign_in_staff(client, "admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="Material"' in page
    form = {
        "csrf_token": csrf(client, "/admin/settings"),
        "name": "ShopSphere",
        "timezone": "UTC",
        "low_stock_default": "5",
        "filterable_specifications": "Material, Fit, material",
    }
    assert client.post("/admin/settings", data=form).status_code == 303
    html = client.get("/products").get_data(as_text=True)
    assert facet(html, "Fit") == ["Regular (3)"]
    too_many = {**form, "csrf_token": csrf(client, "/admin/settings"),
                "filterable_specifications": "a, b, c, d, e, f"}  # fmt: skip
    response = client.post("/admin/settings", data=too_many)
    assert response.status_code == 422
    assert "at most 5 specifications" in response.get_data(as_text=True)

"""Search synonyms staff manage: "tee" finds the T-shirts and "t-shirt" the tees."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.catalog.models import SearchSynonym
from app.catalog.search import fts5_match_expression, tsquery_expression
from app.db import commit_unit_of_work
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories


def names(html: str) -> list[str]:
    return sorted(re.findall(r'<h3 class="product-card-title">(.*?)</h3>', html))


@pytest.fixture
def catalog(db):
    factories.product("Organic Cotton T-Shirt")
    factories.product("Striped Tee")
    factories.product("Hooded Sweatshirt")
    factories.product("Canvas Sneakers")
    factories.product("Leather Trainers")
    commit_unit_of_work()


def add(client, terms):
    token = csrf(client, "/admin/search-synonyms")
    return client.post("/admin/search-synonyms", data={"csrf_token": token, "terms": terms})


def test_a_group_makes_each_word_find_the_others(client, db, catalog):
    assert names(client.get("/products?q=tee").get_data(as_text=True)) == ["Striped Tee"]
    sign_in_staff(client)
    response = add(client, "tee, T-Shirt")
    assert response.status_code == 303
    flash = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added the synonyms tee, t-shirt." in flash
    both = ["Organic Cotton T-Shirt", "Striped Tee"]
    assert names(client.get("/products?q=tee").get_data(as_text=True)) == both  # at once
    assert names(client.get("/products?q=t-shirt").get_data(as_text=True)) == both
    assert names(client.get("/products?q=cotton+tee").get_data(as_text=True)) == [
        "Organic Cotton T-Shirt"
    ]
    api = client.get("/api/v1/products?q=tee").get_json()
    assert sorted(item["name"] for item in api["items"]) == both
    # Only the group's own terms expand: "shirt" alone is not "tee".
    assert names(client.get("/products?q=shirt").get_data(as_text=True)) == [
        "Organic Cotton T-Shirt"
    ]


def test_groups_are_listed_audited_and_deleted(client, db, catalog):
    sign_in_staff(client)
    add(client, "sneakers, trainers")
    page = client.get("/admin/search-synonyms").get_data(as_text=True)
    assert "sneakers = trainers" in page
    assert names(client.get("/products?q=trainers").get_data(as_text=True)) == [
        "Canvas Sneakers",
        "Leather Trainers",
    ]
    group_id = db.session.execute(sa.select(SearchSynonym.id)).scalar_one()
    deleted = client.post(
        f"/admin/search-synonyms/{group_id}/delete",
        data={"csrf_token": csrf(client, "/admin/search-synonyms")},
    )
    assert deleted.status_code == 303
    assert names(client.get("/products?q=trainers").get_data(as_text=True)) == ["Leather Trainers"]
    actions = db.session.execute(
        sa.select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.id)
    ).all()
    assert [tuple(a) for a in actions if a[0].startswith("catalog.synonyms")] == [
        ("catalog.synonyms_add", "sneakers, trainers"),
        ("catalog.synonyms_delete", "sneakers, trainers"),
    ]
    again = client.post(
        f"/admin/search-synonyms/{group_id}/delete",
        data={"csrf_token": csrf(client, "/admin/search-synonyms")},
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ("tee", "Enter at least two words or phrases"),
        (", ,", "Enter at least two words or phrases"),
        ("a b c d, tee", "too long: a term is one to 3 words"),
        (", ".join(f"w{i}" for i in range(11)), "at most 10 terms"),
    ],
)
def test_a_group_that_cannot_work_is_refused_on_the_form(client, db, catalog, terms, message):
    sign_in_staff(client)
    response = add(client, terms)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'class="error-summary"' in html
    assert db.session.execute(sa.select(sa.func.count(SearchSynonym.id))).scalar_one() == 0


def test_a_word_belongs_to_one_group(client, db, catalog):
    sign_in_staff(client)
    add(client, "tee, t-shirt")
    response = add(client, "top, Tee")
    assert response.status_code == 422
    assert "“tee” is already in the group tee, t-shirt" in response.get_data(as_text=True)


def test_customers_cannot_manage_synonyms(client, db, catalog):
    assert client.get("/admin/search-synonyms").status_code == 404


def test_the_expressions_offer_the_group_and_keep_user_text_out_of_the_syntax():
    synonyms = {"tee": ["tee", "t-shirt"], "t shirt": ["t-shirt", "tee"]}
    assert fts5_match_expression("cotton tee", synonyms) == '"cotton" AND ("tee" OR "t-shirt")'
    assert fts5_match_expression("T-shirt red", synonyms) == '("t-shirt" OR "tee") AND "red"*'
    assert tsquery_expression("cotton tee", synonyms) == "'cotton' & ('tee' | 't-shirt')"
    assert fts5_match_expression('tee" OR x', synonyms) == (
        '("tee" OR "t-shirt") AND "OR" AND "x"*'
    )
    assert fts5_match_expression("runn", None, ["running", "runner"]) == (
        '("runn"* OR "running" OR "runner")'
    )
    assert tsquery_expression("red runn", None, ["running"]) == "'red' & ('runn':* | 'running')"

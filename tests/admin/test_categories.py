"""Staff category tree: create, rename, move (no cycles, whole subtree rewritten), reorder."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.catalog.categories import update_category
from app.catalog.models import Category
from app.catalog.services import CatalogError
from app.db import commit_unit_of_work
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories


@pytest.fixture
def staff(client, db):
    sign_in_staff(client, "staff")
    return client


@pytest.fixture
def tree(db):
    """clothing/{men/{shirts}, women}, home"""
    clothing = factories.category("Clothing")
    men = factories.category("Men", clothing)
    shirts = factories.category("Shirts", men)
    women = factories.category("Women", clothing)
    home = factories.category("Home")
    commit_unit_of_work()
    return {"clothing": clothing, "men": men, "shirts": shirts, "women": women, "home": home}


def paths(db) -> dict[str, tuple[str, str, int, int | None]]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(Category)).scalars()
    return {c.name: (c.slug_path, c.id_path, c.depth, c.parent_id) for c in rows}


def edit(client, category, **fields):
    path = f"/admin/categories/{category.id}"
    data = {
        "csrf_token": csrf(client, path),
        "name": category.name,
        "slug": category.slug,
        "parent_id": str(category.parent_id or 0),
        "description": "",
    }
    data.update(fields)
    return client.post(path, data=data)


def test_anonymous_and_customers_get_404(client, db, tree):
    pages = ["/admin/categories", f"/admin/categories/{tree['men'].id}"]
    for path in pages:
        assert client.get(path).status_code == 404
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    token = csrf(client, "/")
    for path in pages:
        assert client.get(path).status_code == 404
    for path in [
        "/admin/categories/new",
        f"/admin/categories/{tree['men'].id}",
        f"/admin/categories/{tree['men'].id}/reorder",
    ]:
        assert client.post(path, data={"csrf_token": token, "name": "X"}).status_code == 404


def test_posts_without_csrf_are_refused(staff, db, tree):
    assert staff.post("/admin/categories/new", data={"name": "Garden"}).status_code == 400
    response = staff.post(
        f"/admin/categories/{tree['men'].id}", data={"name": "Gents", "parent_id": "0"}
    )
    assert response.status_code == 400
    assert paths(db)["Men"][0] == "clothing/men"


@pytest.mark.parametrize("path", ["/admin/categories/99999999999", "/admin/categories/424242"])
def test_unknown_and_huge_ids_are_404(staff, db, path):
    assert staff.get(path).status_code == 404
    token = csrf(staff, "/admin/categories")
    assert staff.post(path + "/reorder", data={"csrf_token": token}).status_code == 404


def test_tree_page_shows_nesting_and_the_storefront_gets_new_categories(staff, db, tree):
    html = staff.get("/admin/categories").get_data(as_text=True)
    assert html.index("Clothing") < html.index("Men") < html.index("Shirts") < html.index("Home")
    assert "/c/clothing/men/shirts" in html

    token = csrf(staff, "/admin/categories")
    response = staff.post(
        "/admin/categories/new",
        data={"csrf_token": token, "name": "Jackets & Coats", "parent_id": str(tree["men"].id)},
    )
    assert response.status_code == 302
    new = paths(db)["Jackets & Coats"]
    jackets_id = new[1].strip("/").split("/")[-1]
    assert new[0] == "clothing/men/jackets-coats"
    assert new[1] == f"{tree['men'].id_path}{jackets_id}/" and new[2] == 2
    assert staff.get("/c/clothing/men/jackets-coats").status_code == 200
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "catalog.category_create")
    ).scalar_one()
    assert event.detail == "clothing/men/jackets-coats"


def test_duplicate_and_empty_names_are_form_errors(staff, db, tree):
    token = csrf(staff, "/admin/categories")
    response = staff.post(
        "/admin/categories/new",
        data={"csrf_token": token, "name": "Men", "parent_id": str(tree["clothing"].id)},
    )
    assert response.status_code == 422
    assert "There is already a category at /c/clothing/men." in response.get_data(as_text=True)
    response = staff.post(
        "/admin/categories/new", data={"csrf_token": token, "name": "", "parent_id": "999"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the category name." in html and "Not a valid choice" in html


def test_moving_rewrites_the_whole_subtree(staff, db, tree):
    men, home = tree["men"], tree["home"]
    response = edit(staff, men, parent_id=str(home.id))
    assert response.status_code == 302
    after = paths(db)
    assert after["Men"] == ("home/men", f"/{home.id}/{men.id}/", 1, home.id)
    assert after["Shirts"] == (
        "home/men/shirts",
        f"/{home.id}/{men.id}/{tree['shirts'].id}/",
        2,
        men.id,
    )
    assert after["Women"][0] == "clothing/women"  # siblings untouched
    # The storefront follows at once: the old address is gone, the new one works.
    old = staff.get("/c/clothing/men/shirts")  # the old address sends people on
    assert old.status_code == 301 and old.headers["Location"] == "/c/home/men/shirts"
    assert staff.get("/c/home/men/shirts").status_code == 200

    response = edit(staff, men, parent_id="0", slug="gents", name="Gents")
    assert response.status_code == 302
    after = paths(db)
    assert after["Gents"] == ("gents", f"/{men.id}/", 0, None)
    assert after["Shirts"] == ("gents/shirts", f"/{men.id}/{tree['shirts'].id}/", 1, men.id)
    details = [
        e.detail
        for e in db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "catalog.category_update")
            .order_by(AuditEvent.id)
        ).scalars()
    ]
    assert details == [
        "changed parent; clothing/men -> home/men",
        "changed name, slug, parent; home/men -> gents",
    ]


@pytest.mark.parametrize("target", ["clothing", "men", "shirts"])
def test_moving_under_itself_or_a_descendant_is_refused(staff, db, tree, target):
    before = paths(db)
    response = edit(staff, tree["clothing"], parent_id=str(tree[target].id))
    assert response.status_code == 422
    assert "cannot be moved under itself or one of its subcategories" in response.get_data(
        as_text=True
    )
    assert paths(db) == before


def test_the_service_refuses_cycles_too(db, tree):
    with pytest.raises(CatalogError, match="under itself"):
        update_category(tree["men"], name="Men", parent=tree["shirts"])


def test_the_parent_choices_leave_out_the_subtree(staff, db, tree):
    html = staff.get(f"/admin/categories/{tree['men'].id}").get_data(as_text=True)
    select = html[
        html.index('id="parent_id"') : html.index("</select>", html.index('id="parent_id"'))
    ]
    assert "Home" in select and "Clothing" in select
    assert "Shirts" not in select and "— Men" not in select


def test_moving_onto_a_taken_address_is_refused(staff, db, tree):
    factories.category("Men")  # a top-level "men" already exists
    commit_unit_of_work()
    before = paths(db)
    response = edit(staff, tree["men"], parent_id="0")
    assert response.status_code == 422
    assert "There is already a category at /c/men." in response.get_data(as_text=True)
    assert paths(db) == before


def test_reorder_with_up_and_down(staff, db, tree):
    token = csrf(staff, "/admin/categories")

    def roots():
        db.session.expire_all()
        rows = db.session.execute(
            sa.select(Category.name)
            .where(Category.parent_id.is_(None))
            .order_by(Category.position, Category.name)
        ).scalars()
        return list(rows)

    assert roots() == ["Clothing", "Home"]
    staff.post(
        f"/admin/categories/{tree['home'].id}/reorder",
        data={"csrf_token": token, "direction": "up"},
    )
    assert roots() == ["Home", "Clothing"]
    assert "Moved “Home” up." in staff.get("/admin/categories").get_data(as_text=True)
    # Already first: nothing changes, nothing is audited, and the page says so.
    staff.post(
        f"/admin/categories/{tree['home'].id}/reorder",
        data={"csrf_token": token, "direction": "up"},
    )
    assert roots() == ["Home", "Clothing"]
    assert "cannot move further up" in staff.get("/admin/categories").get_data(as_text=True)
    staff.post(
        f"/admin/categories/{tree['home'].id}/reorder",
        data={"csrf_token": token, "direction": "down"},
    )
    assert roots() == ["Clothing", "Home"]
    count = db.session.execute(
        sa.select(sa.func.count()).where(AuditEvent.action == "catalog.category_reorder")
    ).scalar_one()
    assert count == 2
    home_page = staff.get("/").get_data(as_text=True)
    nav = home_page[home_page.index('aria-label="Categories"') :]
    assert nav.index("Clothing") < nav.index("Home")


def test_staff_without_catalog_edit_get_403(staff, db, tree, monkeypatch):
    from app.accounts import permissions

    token = csrf(staff, "/admin/categories")
    reduced = permissions.ROLE_PERMISSIONS["staff"] - {"catalog.edit"}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, "staff", reduced)
    assert staff.get("/admin/categories").status_code == 403
    response = staff.post("/admin/categories/new", data={"csrf_token": token, "name": "Garden"})
    assert response.status_code == 403
    assert "Garden" not in paths(db)


def test_old_category_addresses_redirect_after_a_rename_or_move(staff, db, tree):
    assert edit(staff, tree["men"], slug="gents").status_code == 302
    old = staff.get("/c/clothing/men/shirts?sort=price&page=2")
    assert old.status_code == 301
    assert old.headers["Location"] == "/c/clothing/gents/shirts?sort=price&page=2"
    assert staff.get("/c/clothing/men").headers["Location"] == "/c/clothing/gents"
    assert staff.get("/c/clothing/gents/shirts").status_code == 200
    # Moved again: both earlier addresses lead to the newest one.
    db.session.refresh(tree["men"])
    assert edit(staff, tree["men"], parent_id=str(tree["home"].id)).status_code == 302
    assert staff.get("/c/clothing/men").headers["Location"] == "/c/home/gents"
    assert staff.get("/c/clothing/gents/shirts").headers["Location"] == "/c/home/gents/shirts"
    # An address taken by a new category is that category's again, not a redirect.
    factories.category("Men", tree["clothing"])
    commit_unit_of_work()
    assert staff.get("/c/clothing/men").status_code == 200
    assert staff.get("/c/nowhere/at-all").status_code == 404

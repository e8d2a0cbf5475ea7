"""Product specifications typed by staff: stored in order, shown on the product page and in
the API, refused with the line to fix when they cannot be read."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.catalog.errors import CatalogError
from app.catalog.models import Product
from app.catalog.specifications import parse_specifications
from tests.admin.helpers import csrf, sign_in_staff
from tests.admin.test_products import create, product_by_name


@pytest.fixture
def staff(client, db):
    sign_in_staff(client, "staff")
    return client


def save(client, product, specifications):
    data = {
        "csrf_token": csrf(client, f"/admin/products/{product.id}"),
        "name": product.name,
        "description": product.description_html,
        "brand": product.brand,
        "category_id": "0",
        "specifications": specifications,
    }
    return client.post(f"/admin/products/{product.id}", data=data)


def test_staff_write_specifications_that_shoppers_and_the_app_see(staff, db):
    create(staff, specifications="Material: Waxed cotton\n\n  Fit :  Regular  ")
    product = product_by_name(db, "Harbour Jacket")
    assert list(product.attributes.items()) == [("Material", "Waxed cotton"), ("Fit", "Regular")]
    form = staff.get(f"/admin/products/{product.id}").get_data(as_text=True)
    assert "Material: Waxed cotton\nFit: Regular" in form

    assert save(staff, product, "USB port: Type C\nMaterial: Canvas").status_code == 302
    product = product_by_name(db, "Harbour Jacket")
    assert list(product.attributes.items()) == [("USB port", "Type C"), ("Material", "Canvas")]
    audit = db.session.execute(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "catalog.product_update")
    ).scalar_one()
    assert "specifications" in audit

    staff.post(
        f"/admin/products/{product.id}/status",
        data={"csrf_token": csrf(staff, f"/admin/products/{product.id}"), "status": "published"},
    )
    page = staff.get(f"/products/{product.slug}").get_data(as_text=True)
    assert re.search(r"<dt>USB port</dt><dd>Type C</dd>", page)  # as written, not "Usb port"
    api = staff.get(f"/api/v1/products/{product.slug}").get_json()
    assert api["attributes"] == {"USB port": "Type C", "Material": "Canvas"}

    assert save(staff, product, "").status_code == 302  # cleared
    assert product_by_name(db, "Harbour Jacket").attributes == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Material Merino", "Line 1: write a name and a value"),
        ("Material: Wool\n: Regular", "Line 2: write a name and a value"),
        ("Fit: Slim\nfit: Regular", "Line 2: “fit” is already given."),
        ("N" * 41 + ": x", "a name has at most 40 characters"),
        ("\n".join(f"Spec {i}: {i}" for i in range(31)), "at most 30 specifications"),
    ],
)
def test_specifications_that_cannot_be_read_are_form_errors(staff, db, text, message):
    create(staff)
    product = product_by_name(db, "Harbour Jacket")
    response = save(staff, product, text)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'class="error-summary"' in html
    assert 'href="#specifications"' in html
    db.session.expire_all()
    assert db.session.get(Product, product.id).attributes == {}


def test_hostile_text_stays_text():
    assert parse_specifications("<script>x</script>: <b>y</b>") == {
        "<script>x</script>": "<b>y</b>"
    }
    with pytest.raises(CatalogError):
        parse_specifications("x" * 300 + ": y")

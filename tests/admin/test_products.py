"""Staff product screens: list, create with variants, edit, images, status, bulk, delete."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from app.accounts.models import AuditEvent
from app.admin.catalog.forms import parse_options, parse_price
from app.catalog.models import PriceChange, Product, ProductImage, Variant
from app.catalog.services import VariantInput
from app.core.money import decimal_text
from app.db import commit_unit_of_work
from app.orders.models import Order, OrderLine
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories


def jpeg(size=(400, 300), color="navy") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def staff(client, db):
    sign_in_staff(client, "staff")
    return client


def audits(db, action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def product_by_name(db, name: str) -> Product:
    db.session.expire_all()
    return db.session.execute(sa.select(Product).where(Product.name == name)).scalar_one()


def create(client, **overrides):
    data = {
        "csrf_token": csrf(client, "/admin/products/new"),
        "name": "Harbour Jacket",
        "description": "<p>Waxed <b>cotton</b>.</p><script>alert(1)</script>",
        "brand": "Kestrel",
        "category_id": "0",
        "sku": "HJ-M",
        "options": "Size: M, Colour: Olive",
        "price": "19.99",
        "stock": "7",
    }
    data.update(overrides)
    return client.post("/admin/products/new", data=data)


# --- access ---------------------------------------------------------------------------------

PAGES = [
    "/admin/products",
    "/admin/products/new",
    "/admin/products/1",
    "/admin/products/1/variants/1",
]
POSTS = [
    "/admin/products/new",
    "/admin/products/bulk",
    "/admin/products/1/status",
    "/admin/products/1/delete",
    "/admin/products/1/variants",
    "/admin/products/1/images",
    "/admin/products/1/images/1/move",
    "/admin/products/1/images/1/delete",
]


def test_anonymous_visitors_and_customers_get_404(client, db):
    product = factories.product("Secret Lamp", status="draft")
    commit_unit_of_work()
    pages = [p.replace("/1", f"/{product.id}", 1) for p in PAGES]
    for path in pages:
        assert client.get(path).status_code == 404, path
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    token = csrf(client, "/")
    for path in pages:
        assert client.get(path).status_code == 404, path
    for path in POSTS:
        path = path.replace("/1", f"/{product.id}", 1)
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "draft"


def test_posts_without_a_csrf_token_are_refused(staff, db):
    product = factories.product("Kettle", status="draft")
    commit_unit_of_work()
    assert create(staff, csrf_token="").status_code == 400
    response = staff.post(f"/admin/products/{product.id}/status", data={"status": "published"})
    assert response.status_code == 400
    response = staff.post("/admin/products/bulk", data={"ids": product.id, "action": "publish"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "draft"
    assert (
        db.session.execute(sa.select(Product).where(Product.name == "Harbour Jacket")).first()
        is None
    )


@pytest.mark.parametrize(
    "path",
    [
        "/admin/products/99999999999",
        "/admin/products/2147483648",
        "/admin/products/0",
        "/admin/products/12345",
        "/admin/products/99999999999/variants/99999999999",
        "/admin/products/99999999999/images/1",
    ],
)
def test_unknown_and_huge_ids_are_404(staff, path):
    assert staff.get(path).status_code == 404


def test_huge_ids_on_posts_are_404(staff, db):
    product = factories.product("Tiny Lamp")
    commit_unit_of_work()
    token = csrf(staff, "/admin/products")
    for path in [
        "/admin/products/99999999999/status",
        f"/admin/products/{product.id}/images/99999999999/delete",
        f"/admin/products/{product.id}/variants/99999999999",
    ]:
        assert staff.post(path, data={"csrf_token": token}).status_code == 404, path


# --- create, publish, archive -------------------------------------------------------------


def test_create_publish_and_archive_a_product_through_the_pages(staff, db):
    response = create(staff)
    assert response.status_code == 302
    product = product_by_name(db, "Harbour Jacket")
    assert response.headers["Location"] == f"/admin/products/{product.id}"
    assert product.status == "draft"
    assert "<script>" not in product.description_html
    assert product.description_html == "<p>Waxed <b>cotton</b>.</p>"
    (variant,) = product.variants
    assert (variant.sku, variant.price, variant.stock_on_hand) == ("HJ-M", 1999, 7)
    assert variant.options == {"Size": "M", "Colour": "Olive"}
    assert [e.target for e in audits(db, "catalog.product_create")] == [f"product:{product.id}"]

    page = staff.get(f"/admin/products/{product.id}").get_data(as_text=True)
    assert "Harbour Jacket" in page and "HJ-M" in page and "€19.99" in page
    assert staff.get(f"/products/{product.slug}").status_code == 404  # a draft is hidden

    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/status", data={"csrf_token": token, "status": "published"}
    )
    assert response.status_code == 302
    shop = staff.get(f"/products/{product.slug}")
    assert shop.status_code == 200 and "Harbour Jacket" in shop.get_data(as_text=True)
    assert "Harbour Jacket" in staff.get("/products").get_data(as_text=True)

    staff.post(
        f"/admin/products/{product.id}/status", data={"csrf_token": token, "status": "archived"}
    )
    assert staff.get(f"/products/{product.slug}").status_code == 404
    assert "Harbour Jacket" not in staff.get("/products").get_data(as_text=True)
    details = [e.detail for e in audits(db, "catalog.product_status")]
    assert details == ["draft -> published", "published -> archived"]


def test_a_published_product_cannot_go_back_to_draft(staff, db):
    product = factories.product("Desk Fan")
    commit_unit_of_work()
    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/status",
        data={"csrf_token": token, "status": "draft"},
        follow_redirects=True,
    )
    assert "A published product cannot become draft." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "published"
    assert not audits(db, "catalog.product_status")


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("abc", "Enter the price as a number like 19.99"),
        ("€19.99", "Enter the price as a number like 19.99"),
        ("1e3", "Enter the price as a number like 19.99"),
        ("-5", "Enter the price as a number like 19.99"),
        ("19.999", "Use at most 2 decimal places"),
        ("0", "The price must be greater than zero."),
        ("0.00", "The price must be greater than zero."),
        ("1000000.01", "The price must be at most 1,000,000."),
        ("9" * 5000, "Enter the price as a number like 19.99"),
        ("", "Enter a price."),
    ],
)
def test_bad_prices_are_form_errors_and_nothing_is_created(staff, db, price, message):
    response = create(staff, price=price)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'value="Harbour Jacket"' in html  # nothing typed is lost
    assert (
        db.session.execute(sa.select(Product).where(Product.name == "Harbour Jacket")).first()
        is None
    )


@pytest.mark.parametrize(
    ("text", "minor"),
    [("19.99", 1999), ("19,99", 1999), ("20", 2000), ("0.5", 50), (" 7.10 ", 710), ("0.01", 1)],
)
def test_prices_are_parsed_exactly_into_cents(text, minor):
    assert parse_price(text) == minor
    assert parse_price(decimal_text(minor, "EUR")) == minor


def test_prices_follow_the_currency_precision():
    assert parse_price("1999", "JPY") == 1999
    with pytest.raises(ValueError, match="whole numbers"):
        parse_price("19.99", "JPY")
    assert decimal_text(1999, "EUR") == "19.99" and decimal_text(2000, "EUR") == "20.00"
    assert decimal_text(1999, "JPY") == "1999" and decimal_text(1999, "BHD") == "1.999"


def test_options_are_parsed_or_refused():
    assert parse_options("Size: M\nColour: Blue") == {"Size": "M", "Colour": "Blue"}
    assert parse_options("") == {}
    with pytest.raises(ValueError, match="name: value"):
        parse_options("Size M")
    with pytest.raises(ValueError, match="given twice"):
        parse_options("Size: M, Size: L")


def test_bad_stock_and_sku_are_form_errors(staff, db):
    response = create(staff, stock="-3", sku="has space")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Stock is between 0 and 1,000,000." in html
    assert "SKUs use letters, digits" in html
    response = create(staff, stock="lots")
    assert "Enter a whole number, like 10." in response.get_data(as_text=True)


def test_a_taken_sku_is_a_form_error_not_a_500(staff, db):
    factories.product(
        "Existing", variants=[factories.VariantInput(sku="DUP-1", price=100, options={})]
    )
    commit_unit_of_work()
    response = create(staff, sku="DUP-1")
    assert response.status_code == 422
    assert "The SKU DUP-1 is already used by another variant." in response.get_data(as_text=True)

    assert create(staff).status_code == 302
    product = product_by_name(db, "Harbour Jacket")
    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/variants",
        data={"csrf_token": token, "sku": "DUP-1", "price": "5", "options": "Size: L"},
    )
    assert response.status_code == 422
    assert "The SKU DUP-1 is already used by another variant." in response.get_data(as_text=True)


def test_a_sku_taken_in_a_race_is_still_a_form_error(staff, db, monkeypatch):
    """The unique constraint catches what the pre-check missed (another request in between)."""
    factories.product(
        "Existing", variants=[factories.VariantInput(sku="RACE-1", price=100, options={})]
    )
    commit_unit_of_work()
    monkeypatch.setattr("app.admin.catalog.products.sku_taken", lambda *a, **k: False)
    response = create(staff, sku="RACE-1")
    assert response.status_code == 422
    assert "The SKU RACE-1 is already used by another variant." in response.get_data(as_text=True)


# --- variants and prices ------------------------------------------------------------------


def test_add_a_second_variant_and_change_a_price_with_history(staff, db):
    assert create(staff).status_code == 302
    product = product_by_name(db, "Harbour Jacket")
    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/variants",
        data={
            "csrf_token": token,
            "sku": "HJ-L",
            "options": "Size: L",
            "price": "21.50",
            "stock": "3",
        },
    )
    assert response.status_code == 302
    product = product_by_name(db, "Harbour Jacket")
    assert [(v.sku, v.price, v.stock_on_hand) for v in product.variants] == [
        ("HJ-M", 1999, 7),
        ("HJ-L", 2150, 3),
    ]
    assert (product.price_min, product.price_max) == (1999, 2150)
    large = product.variants[1]

    response = staff.post(
        f"/admin/products/{product.id}/variants/{large.id}",
        data={
            "csrf_token": token,
            "sku": "HJ-L",
            "options": "Size: L",
            "price": "24.00",
            "compare_at_price": "30",
            "track_inventory": "y",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    large = db.session.get(Variant, large.id)
    assert (large.price, large.compare_at_price) == (2400, 3000)
    changes = db.session.execute(
        sa.select(PriceChange.old_price, PriceChange.new_price)
        .where(PriceChange.variant_id == large.id)
        .order_by(PriceChange.id)
    ).all()
    assert changes == [(None, 2150), (2150, 2400)]
    page = staff.get(f"/admin/products/{product.id}").get_data(as_text=True)
    history = page[page.index("Price history") :]
    assert "€21.50" in history and "€24.00" in history and "Ada Lovelace" in history
    assert [e.detail for e in audits(db, "catalog.variant_update")] == [
        "changed price; price 2150 -> 2400"
    ]

    staff.post(
        f"/admin/products/{product.id}/status", data={"csrf_token": token, "status": "published"}
    )
    shop = staff.get(f"/products/{product.slug}?variant={large.id}").get_data(as_text=True)
    assert "€24.00" in shop


def test_variant_edit_refuses_a_compare_at_price_below_the_price(staff, db):
    product = factories.product("Teapot", price=2000)
    commit_unit_of_work()
    variant = product.variants[0]
    path = f"/admin/products/{product.id}/variants/{variant.id}"
    assert 'value="20.00"' in staff.get(path).get_data(as_text=True)
    response = staff.post(
        path,
        data={
            "csrf_token": csrf(staff, path),
            "sku": variant.sku,
            "price": "20",
            "compare_at_price": "15",
        },
    )
    assert response.status_code == 422
    assert "The compare-at price must be above the price." in response.get_data(as_text=True)


def test_a_variant_of_another_product_is_404(staff, db):
    one = factories.product("One")
    two = factories.product("Two")
    commit_unit_of_work()
    assert staff.get(f"/admin/products/{one.id}/variants/{two.variants[0].id}").status_code == 404


def test_editing_details_sanitises_the_description_and_keeps_the_slug(staff, db):
    category = factories.category("Kitchen")
    product = factories.product("Old Name", status="published")
    commit_unit_of_work()
    slug = product.slug
    path = f"/admin/products/{product.id}"
    response = staff.post(
        path,
        data={
            "csrf_token": csrf(staff, path),
            "name": "New Name",
            "description": '<p onclick="x()">Hi <a href="javascript:alert(1)">there</a></p>',
            "category_id": str(category.id),
            "brand": "",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    product = db.session.get(Product, product.id)
    assert (product.name, product.slug, product.category_id) == ("New Name", slug, category.id)
    assert (
        "onclick" not in product.description_html and "javascript" not in product.description_html
    )
    assert "New Name" in staff.get(f"/products/{slug}").get_data(as_text=True)
    assert audits(db, "catalog.product_update")[0].detail == "changed name, description, category"

    response = staff.post(
        path, data={"csrf_token": csrf(staff, path), "name": "", "category_id": "99"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the product name." in html and "Not a valid choice" in html


# --- images ---------------------------------------------------------------------------------


def upload(client, product_id, data: bytes, alt="Front view", filename="photo.jpg"):
    token = csrf(client, f"/admin/products/{product_id}")
    return client.post(
        f"/admin/products/{product_id}/images",
        data={"csrf_token": token, "alt_text": alt, "image": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_images_upload_alt_text_reorder_and_delete(staff, db):
    product = factories.product("Lamp", status="draft")
    commit_unit_of_work()
    assert upload(staff, product.id, jpeg(color="red"), alt="Red lamp").status_code == 302
    assert upload(staff, product.id, jpeg(color="blue"), alt="Blue lamp").status_code == 302
    db.session.expire_all()
    first, second = db.session.get(Product, product.id).images
    assert [first.alt_text, second.alt_text] == ["Red lamp", "Blue lamp"]
    html = staff.get(f"/admin/products/{product.id}").get_data(as_text=True)
    assert 'alt="Red lamp"' in html and 'alt="Blue lamp"' in html
    src = re.search(r'<img src="([^"]+)" alt="Red lamp"', html).group(1)
    assert staff.get(src).status_code == 200  # the rendition really is stored

    token = csrf(staff, f"/admin/products/{product.id}")
    staff.post(
        f"/admin/products/{product.id}/images/{second.id}/move",
        data={"csrf_token": token, "direction": "up"},
    )
    db.session.expire_all()
    assert [i.id for i in db.session.get(Product, product.id).images] == [second.id, first.id]

    alt_path = f"/admin/products/{product.id}/images/{first.id}"
    assert "Red lamp" in staff.get(alt_path).get_data(as_text=True)
    staff.post(alt_path, data={"csrf_token": token, "alt_text": "Red lamp, lit"})
    db.session.expire_all()
    assert db.session.get(ProductImage, first.id).alt_text == "Red lamp, lit"

    response = staff.post(
        f"/admin/products/{product.id}/images/{first.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [i.id for i in db.session.get(Product, product.id).images] == [second.id]
    assert staff.get(src).status_code == 404  # files go after the commit
    actions = [
        e.action
        for e in db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.action.like("catalog.image%"))
            .order_by(AuditEvent.id)
        ).scalars()
    ]
    assert actions == [
        "catalog.image_add",
        "catalog.image_add",
        "catalog.image_reorder",
        "catalog.image_alt",
        "catalog.image_delete",
    ]


def test_bad_image_files_are_form_errors(staff, db, app, monkeypatch):
    product = factories.product("Lamp", status="draft")
    commit_unit_of_work()
    response = upload(staff, product.id, b"<?php echo 'hi'; ?>", filename="evil.jpg")
    assert response.status_code == 422
    assert "That file is not an image we can read" in response.get_data(as_text=True)

    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/images",
        data={"csrf_token": token, "alt_text": "x"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Choose an image file to upload." in response.get_data(as_text=True)

    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", 2048)
    response = upload(staff, product.id, jpeg(size=(900, 900)) + b"\0" * 4096)
    assert response.status_code == 422
    assert "Images must be 2 KB or smaller." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Product, product.id).images == []


def test_an_image_that_cannot_all_be_stored_leaves_no_files_behind(staff, db, monkeypatch):
    """The storage fails half-way through an image's renditions: staff are told to try
    again, and the renditions already written are deleted (no row will ever point at them)."""
    from app.file_storage import LocalStorage, StorageError, get_storage

    product = factories.product("Lamp", status="draft")
    commit_unit_of_work()
    saved: list[str] = []
    real = LocalStorage.save

    def save(self, key, data, content_type):
        if len(saved) == 2:
            raise StorageError("the bucket did not answer")
        real(self, key, data, content_type)
        saved.append(key)

    monkeypatch.setattr(LocalStorage, "save", save)
    response = upload(staff, product.id, jpeg(color="red"))
    assert response.status_code == 422
    assert "could not be stored just now" in response.get_data(as_text=True)
    for key in saved:
        with pytest.raises(FileNotFoundError):
            get_storage().read(key)
    db.session.expire_all()
    assert db.session.get(Product, product.id).images == []


def test_a_deleted_images_files_go_even_when_one_cannot_be_deleted(staff, db, monkeypatch):
    """After the row is gone, its renditions are deleted each on its own: one the storage
    refuses is logged, the others still go, and staff see the image deleted."""
    from app.catalog.images import rendition_keys
    from app.file_storage import LocalStorage, StorageError, get_storage

    product = factories.product("Lamp", status="draft")
    commit_unit_of_work()
    assert upload(staff, product.id, jpeg(color="red")).status_code == 302
    db.session.expire_all()
    [image] = db.session.get(Product, product.id).images
    keys = rendition_keys(image.storage_key)
    real = LocalStorage.delete

    def delete(self, key):
        if key == keys[0]:
            raise StorageError("the bucket did not answer")
        real(self, key)

    monkeypatch.setattr(LocalStorage, "delete", delete)
    token = csrf(staff, f"/admin/products/{product.id}")
    response = staff.post(
        f"/admin/products/{product.id}/images/{image.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 302
    get_storage().read(keys[0])  # the one refused is still there
    for key in keys[1:]:
        with pytest.raises(FileNotFoundError):
            get_storage().read(key)


def test_an_image_of_another_product_is_404(staff, db):
    one = factories.product("One")
    two = factories.product("Two")
    commit_unit_of_work()
    assert upload(staff, two.id, jpeg()).status_code == 302
    db.session.expire_all()
    image = db.session.get(Product, two.id).images[0]
    token = csrf(staff, "/admin/products")
    assert staff.get(f"/admin/products/{one.id}/images/{image.id}").status_code == 404
    response = staff.post(
        f"/admin/products/{one.id}/images/{image.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 404


# --- list, bulk, delete ---------------------------------------------------------------------


def test_list_searches_filters_sorts_and_answers_htmx_with_the_table(staff, db):
    factories.product(
        "Alpha Kettle", variants=[factories.VariantInput(sku="KET-A", price=300, options={})]
    )
    factories.product("Beta Kettle", status="draft")
    factories.product("Gamma Mug", status="archived")
    commit_unit_of_work()
    html = staff.get("/admin/products?q=kettle").get_data(as_text=True)
    assert "Alpha Kettle" in html and "Beta Kettle" in html and "Gamma Mug" not in html
    html = staff.get("/admin/products?q=ket-a").get_data(as_text=True)
    assert "Alpha Kettle" in html and "Beta Kettle" not in html
    html = staff.get("/admin/products?status=draft").get_data(as_text=True)
    assert "Beta Kettle" in html and "Alpha Kettle" not in html
    html = staff.get("/admin/products?sort=name").get_data(as_text=True)
    assert html.index("Alpha Kettle") < html.index("Beta Kettle") < html.index("Gamma Mug")
    html = staff.get("/admin/products?sort=-name&q=%25").get_data(as_text=True)
    assert "No products match" in html  # % is a character, not a wildcard
    partial = staff.get(
        "/admin/products?q=mug", headers={"HX-Request": "true", "HX-Target": "admin-results"}
    ).get_data(as_text=True)
    assert "Gamma Mug" in partial and "<html" not in partial and "<table" in partial
    assert staff.get("/admin/products?page=99999999999&sort=evil&status=zzz").status_code == 200


def test_bulk_publish_and_archive(staff, db):
    a = factories.product("Bulk A", status="draft")
    b = factories.product("Bulk B", status="draft")
    c = factories.product("Bulk C", status="published")
    commit_unit_of_work()
    token = csrf(staff, "/admin/products")
    response = staff.post(
        "/admin/products/bulk",
        data={
            "csrf_token": token,
            "action": "publish",
            "ids": [a.id, b.id, c.id, "x", "99999999999"],
        },
        follow_redirects=True,
    )
    assert "2 products published." in response.get_data(as_text=True)
    assert staff.get(f"/products/{a.slug}").status_code == 200
    staff.post(
        "/admin/products/bulk", data={"csrf_token": token, "action": "archive", "ids": [a.id, c.id]}
    )
    db.session.expire_all()
    statuses = {p.name: p.status for p in db.session.execute(sa.select(Product)).scalars()}
    assert statuses == {"Bulk A": "archived", "Bulk B": "published", "Bulk C": "archived"}
    assert staff.get(f"/products/{a.slug}").status_code == 404
    assert len(audits(db, "catalog.product_status")) == 4
    response = staff.post(
        "/admin/products/bulk",
        data={"csrf_token": token, "action": "delete", "ids": [b.id]},
        follow_redirects=True,
    )
    assert "Choose products and an action." in response.get_data(as_text=True)


def test_inline_status_action_with_htmx_returns_the_refreshed_table(staff, db):
    product = factories.product("Inline Lamp", status="draft")
    commit_unit_of_work()
    token = csrf(staff, "/admin/products")
    response = staff.post(
        f"/admin/products/{product.id}/status",
        data={"csrf_token": token, "status": "published", "next": "/admin/products?q=inline"},
        headers={"HX-Request": "true", "HX-Target": "admin-results"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Inline Lamp" in html
    assert "is now published" in html  # the flash message travels out of band
    response = staff.post(
        f"/admin/products/{product.id}/status",
        data={"csrf_token": token, "status": "archived", "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == f"/admin/products/{product.id}"


def make_order_with(variant: Variant) -> None:
    order = Order(
        number="SS-TEST-1",
        email="buyer@example.com",
        currency="EUR",
        subtotal=variant.price,
        total=variant.price,
    )
    order.lines.append(
        OrderLine(
            variant_id=variant.id,
            product_name="x",
            sku=variant.sku,
            unit_price=variant.price,
            quantity=1,
            line_total=variant.price,
        )
    )
    from app.extensions import db as _db

    _db.session.add(order)


def test_only_drafts_never_ordered_can_be_deleted(staff, db):
    draft = factories.product("Scrap Draft", status="draft")
    ordered = factories.product("Ordered Draft", status="draft")
    live = factories.product("Live One", status="published")
    make_order_with(ordered.variants[0])
    commit_unit_of_work()
    draft_id, ordered_id, live_id = draft.id, ordered.id, live.id
    assert upload(staff, draft.id, jpeg()).status_code == 302
    token = csrf(staff, f"/admin/products/{draft.id}")
    assert "Delete draft" in staff.get(f"/admin/products/{draft.id}").get_data(as_text=True)
    assert "Delete draft" not in staff.get(f"/admin/products/{ordered.id}").get_data(as_text=True)

    response = staff.post(f"/admin/products/{draft.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/products"
    db.session.expunge_all()
    assert db.session.get(Product, draft_id) is None
    assert (
        db.session.execute(sa.select(Variant).where(Variant.product_id == draft_id)).first() is None
    )
    assert staff.get(f"/admin/products/{draft_id}").status_code == 404

    for product_id, message in [
        (
            ordered_id,
            "This product appears in orders, so it cannot be deleted. Archive it instead.",
        ),
        (live_id, "Only drafts can be deleted. Archive this product instead."),
    ]:
        response = staff.post(
            f"/admin/products/{product_id}/delete",
            data={"csrf_token": token},
            follow_redirects=True,
        )
        assert message in response.get_data(as_text=True)
        assert db.session.get(Product, product_id) is not None
    assert [e.target for e in audits(db, "catalog.product_delete")] == [f"product:{draft_id}"]


def test_staff_without_catalog_edit_get_403(staff, db, monkeypatch):
    """Both shipped staff roles hold catalog.edit; a role without it must be refused."""
    from app.accounts import permissions

    product = factories.product("Guarded Lamp", status="draft")
    commit_unit_of_work()
    token = csrf(staff, "/admin/products")
    reduced = permissions.ROLE_PERMISSIONS["staff"] - {"catalog.edit"}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, "staff", reduced)
    for path in ["/admin/products", "/admin/products/new", f"/admin/products/{product.id}"]:
        assert staff.get(path).status_code == 403, path
    response = staff.post(
        f"/admin/products/{product.id}/status", data={"csrf_token": token, "status": "published"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Product, product.id).status == "draft"


def test_options_may_be_written_as_in_the_csv_import(client, db):
    from app.admin.catalog.forms import parse_options

    assert parse_options("Size=M;Colour=Blue") == parse_options("Size: M, Colour: Blue")
    assert parse_options("Fit: a=b") == {"Fit": "a=b"}


def test_bulk_form_returns_to_the_list_as_filtered_by_htmx(client, db):
    sign_in_staff(client, "admin")
    html = client.get(
        "/admin/products?status=draft",
        headers={"HX-Request": "true", "HX-Target": "admin-results"},
    ).get_data(as_text=True)
    assert (
        '<input type="hidden" name="next" form="bulk-form" value="/admin/products?status=draft">'
        in html
    )


def test_a_taken_sku_is_reported_with_the_other_errors(staff, db):
    factories.product("Existing", variants=[VariantInput(sku="TAKEN-1", price=100, options={})])
    commit_unit_of_work()
    page = "/admin/products/new"
    response = staff.post(
        page,
        data={"name": "New", "sku": "TAKEN-1", "price": "abc", "csrf_token": csrf(staff, page)},
    )
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 422)
    assert "The SKU TAKEN-1 is already used by another variant." in html
    assert "price" in html.lower() and 'aria-invalid="true"' in html

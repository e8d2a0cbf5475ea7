"""store_details() and low_stock_default(): what emails, invoices and new variants use."""

from app.notifications.rendering import render
from app.notifications.samples import sample_notification
from app.store.settings import (
    get_store_settings,
    low_stock_default,
    store_details,
    update_store_settings,
)
from tests.catalog import factories


def test_before_anything_is_saved_the_configured_name_is_used(app, db):
    app.config["SHOP_NAME"] = "Config Shop"
    try:
        details = store_details()
        assert details.name == "Config Shop" and details.legal_name == "Config Shop"
        assert details.address_lines == [] and details.vat_number == ""
        assert details.timezone == "UTC"
        assert low_stock_default() == 5
    finally:
        app.config["SHOP_NAME"] = "ShopSphere"


def test_saved_details_are_returned_and_legal_name_falls_back_to_the_name(db):
    changed = update_store_settings(
        {
            "name": "Atlantic Goods",
            "address_lines": ["1 Quay Street", "Galway H91 X2Y3", "Ireland"],
            "email": "hello@atlantic.example",
            "phone": "+353 91 123 456",
            "vat_number": "IE1234567T",
            "timezone": "Europe/Dublin",
            "low_stock_default": 3,
        }
    )
    assert set(changed) == {
        "name",
        "address_lines",
        "email",
        "phone",
        "vat_number",
        "timezone",
        "low_stock_default",
    }
    details = store_details()
    assert details.name == "Atlantic Goods" and details.legal_name == "Atlantic Goods"
    assert details.address_lines == ["1 Quay Street", "Galway H91 X2Y3", "Ireland"]
    assert details.tzinfo.key == "Europe/Dublin"
    assert low_stock_default() == 3
    assert update_store_settings({"name": "Atlantic Goods"}) == {}  # nothing changed


def test_the_settings_row_comes_back_if_it_was_removed(db):
    db.session.delete(get_store_settings())
    db.session.flush()
    assert store_details().name == "ShopSphere" and low_stock_default() == 5
    update_store_settings({"name": "Back Again"})
    assert store_details().name == "Back Again"


def test_new_variants_start_with_the_low_stock_default(db):
    update_store_settings({"low_stock_default": 12})
    variant = factories.product("Lantern", stock=30).variants[0]
    assert variant.low_stock_threshold == 12


def test_store_details_appear_in_email_footers(db):
    update_store_settings(
        {
            "name": "Atlantic Goods",
            "legal_name": "Atlantic Goods Trading Ltd",
            "address_lines": ["1 Quay Street", "Galway"],
            "email": "hello@atlantic.example",
            "vat_number": "IE1234567T",
        }
    )
    message = render(sample_notification("order-confirmation"))
    for part in (message.text, message.html):
        assert "Atlantic Goods Trading Ltd" in part
        assert "1 Quay Street" in part and "Galway" in part
        assert "hello@atlantic.example" in part
        assert "VAT IE1234567T" in part
    assert '<a class="brand"' in message.html and ">Atlantic Goods</a>" in message.html
    assert "ShopSphere" not in message.text


def test_an_email_rendered_after_a_change_shows_the_new_details(db):
    notification = sample_notification("welcome")
    update_store_settings({"name": "First Name Shop"})
    assert "First Name Shop" in render(notification).text
    update_store_settings({"name": "Second Name Shop", "phone": "+353 91 123 456"})
    text = render(notification).text
    assert "Second Name Shop" in text and "+353 91 123 456" in text
    assert "First Name Shop" not in text


def test_admin_pages_show_times_in_the_store_timezone(client, db):
    from datetime import UTC, datetime

    from app.db import commit_unit_of_work
    from tests.admin.helpers import sign_in_staff
    from tests.admin.test_orders import paid_order

    order = paid_order()
    order.created_at = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    update_store_settings({"timezone": "Europe/Dublin"})
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "2026-07-01 23:30 IST" in html  # Irish summer time, one hour ahead of UTC

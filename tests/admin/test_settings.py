"""Settings screens: store details, low-stock default, shipping methods, tax rates."""

import html as htmllib
import re

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work
from app.extensions import db
from app.notifications.rendering import render
from app.notifications.samples import sample_notification
from app.orders.models import Order
from app.orders.pricing import build_quote, methods_for, tax_on
from app.store.models import ShippingMethod, TaxRate
from app.store.settings import low_stock_default, store_details
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories
from tests.orders.helpers import items_for

PAGES = [
    "/admin/settings",
    "/admin/settings/shipping",
    "/admin/settings/shipping/new",
    "/admin/settings/shipping/1",
    "/admin/settings/tax",
    "/admin/settings/tax/new",
    "/admin/settings/tax/1",
]
POSTS = [
    "/admin/settings",
    "/admin/settings/shipping/new",
    "/admin/settings/shipping/1",
    "/admin/settings/shipping/1/delete",
    "/admin/settings/tax/new",
    "/admin/settings/tax/1",
    "/admin/settings/tax/1/delete",
]

STORE = {
    "name": "Atlantic Goods",
    "legal_name": "Atlantic Goods Trading Ltd",
    "address": "1 Quay Street\r\n\r\nGalway H91 X2Y3\r\nIreland",
    "email": "Hello@Atlantic.example",
    "phone": "+353 91 123 456",
    "vat_number": "ie 1234567t",
    "timezone": "Europe/Dublin",
    "low_stock_default": "3",
}
METHOD = {
    "name": "Island Courier",
    "code": "island",
    "countries": "ie, gb",
    "price": "3.50",
    "free_over": "40",
    "delivery_days": "2 working days",
    "position": "5",
    "active": "y",
}


@pytest.fixture
def admin(client, db):
    sign_in_staff(client, "admin")
    return client


def post(client, path, data, token_page=None):
    return client.post(path, data={**data, "csrf_token": csrf(client, token_page or path)})


def method_by_code(code):
    db.session.expire_all()
    return db.session.execute(
        sa.select(ShippingMethod).where(ShippingMethod.code == code)
    ).scalar_one_or_none()


def audits(prefix="settings."):
    db.session.expire_all()
    return list(
        db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        ).scalars()
    )


def field_error(html, field_id):
    match = re.search(rf'id="{field_id}-error"[^>]*>(.*?)</div>', html, re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def input_value(html, field_id):
    match = re.search(rf'<input[^>]*id="{field_id}"[^>]*value="([^"]*)"', html)
    return htmllib.unescape(match.group(1)) if match else None


# --- Who may use these screens ---------------------------------------------------------------


def test_anonymous_visitors_and_customers_get_404(client, db):
    for path in PAGES:
        assert client.get(path).status_code == 404, path
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    for path in PAGES:
        assert client.get(path).status_code == 404, path
    token = csrf(client, "/account")
    for path in POSTS:
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path


def test_staff_without_settings_permission_get_403(client, db):
    sign_in_staff(client, "staff")
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    token = csrf(client)
    for path in POSTS:
        response = client.post(path, data={**STORE, **METHOD, "csrf_token": token})
        assert response.status_code == 403, path
    assert audits() == []
    assert method_by_code("island") is None
    assert "Settings" not in client.get("/admin/").get_data(as_text=True).split("</nav>")[0]


def test_admins_see_every_settings_page(admin):
    for path in PAGES:
        assert admin.get(path).status_code == 200, path
    nav = admin.get("/admin/settings/tax").get_data(as_text=True)
    assert re.search(r'<a href="/admin/settings"\s+aria-current="page">Settings</a>', nav)
    assert re.search(r'<a href="/admin/settings/tax"\s+aria-current="page">Tax rates</a>', nav)


def test_posts_without_a_csrf_token_are_refused(admin):
    for path in POSTS:
        response = admin.post(path, data={**STORE, **METHOD})
        assert response.status_code == 400, path
    assert store_details().name == "ShopSphere"
    assert method_by_code("island") is None and method_by_code("standard") is not None
    assert audits() == []


def test_ids_out_of_range_are_404_not_errors(admin):
    token = csrf(admin, "/admin/settings")
    for path in ("/admin/settings/shipping/99999999999", "/admin/settings/tax/99999999999"):
        assert admin.get(path).status_code == 404
        assert admin.post(path, data={"csrf_token": token}).status_code == 404
        assert admin.post(path + "/delete", data={"csrf_token": token}).status_code == 404
    assert admin.get("/admin/settings/tax/0").status_code == 404
    assert admin.get("/admin/settings/shipping/424242").status_code == 404


# --- Store details and the low-stock default --------------------------------------------------


def test_before_saving_the_form_shows_the_configured_name(admin):
    html = admin.get("/admin/settings").get_data(as_text=True)
    assert input_value(html, "name") == "ShopSphere"
    assert "Until you save, emails use the name from the configuration" in html


def test_saving_store_details_is_what_emails_show_and_is_audited(admin):
    response = post(admin, "/admin/settings", STORE)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/settings"
    details = store_details()
    assert details.name == "Atlantic Goods"
    assert details.legal_name == "Atlantic Goods Trading Ltd"
    assert details.address_lines == ["1 Quay Street", "Galway H91 X2Y3", "Ireland"]
    assert details.email == "hello@atlantic.example"
    assert details.phone == "+353 91 123 456"
    assert details.vat_number == "IE1234567T"
    assert details.timezone == "Europe/Dublin"
    assert low_stock_default() == 3

    [event] = audits()
    assert event.action == "settings.store_updated" and event.actor_id is not None
    assert "name: — → Atlantic Goods" in event.detail and "low_stock_default: 5 → 3" in event.detail

    message = render(sample_notification("order-confirmation"))
    for part in (message.text, message.html):
        assert "Atlantic Goods Trading Ltd" in part and "Galway H91 X2Y3" in part
        assert "VAT IE1234567T" in part and "hello@atlantic.example" in part

    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Settings saved." in page and input_value(page, "vat_number") == "IE1234567T"
    assert post(admin, "/admin/settings", {**STORE, "vat_number": "IE1234567T"}).status_code == 303
    assert len(audits()) == 1  # saving the same values again records nothing


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "  ", "Enter the store’s name."),
        ("email", "not-an-email", "Enter an email address like shop@example.com."),
        ("phone", "12", "Enter a valid phone number"),
        ("vat_number", "IE-12!", "Enter the VAT number with letters and digits"),
        ("timezone", "Mars/Olympus_Mons", "Not a valid choice"),
        ("low_stock_default", "-1", "Enter a whole number from 0 to 100,000."),
        ("low_stock_default", "lots", "Enter a whole number, like 10."),
        ("low_stock_default", "99999999999999999999", "Enter a whole number from 0 to 100,000."),
        ("address", "\n".join(f"line {i}" for i in range(7)), "Use 6 lines at most."),
    ],
)
def test_store_details_with_a_mistake_are_shown_again_with_the_error(admin, field, value, message):
    response = post(admin, "/admin/settings", {**STORE, field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert 'aria-invalid="true"' in html
    if field != "legal_name":
        assert input_value(html, "legal_name") == "Atlantic Goods Trading Ltd"  # nothing lost
    assert store_details().name == "ShopSphere" and audits() == []


def test_the_low_stock_default_can_be_applied_to_existing_variants(admin):
    lamp = factories.product("Lamp", stock=4).variants[0]
    factories.product("Mug", stock=50)
    commit_unit_of_work()
    html = admin.get("/admin/").get_data(as_text=True)
    assert "Lamp" in html.split('id="low-stock-title"')[1].split("</section>")[0]

    post(admin, "/admin/settings", {**STORE, "low_stock_default": "2"})
    db.session.expire_all()
    assert db.session.get(type(lamp), lamp.id).low_stock_threshold == 5  # only new variants

    response = post(
        admin, "/admin/settings", {**STORE, "low_stock_default": "2", "apply_low_stock_to_all": "y"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(type(lamp), lamp.id).low_stock_threshold == 2
    assert audits()[-1].action == "settings.low_stock_applied"
    html = admin.get("/admin/").get_data(as_text=True)
    assert "Lamp" not in html.split('id="low-stock-title"')[1].split("</section>")[0]


# --- Shipping methods -------------------------------------------------------------------------


def test_a_new_shipping_method_is_offered_and_used_by_the_next_quote(admin):
    response = post(admin, "/admin/settings/shipping/new", METHOD)
    assert response.status_code == 303
    method = method_by_code("island")
    assert method.countries == ["IE", "GB"]
    assert (method.price, method.free_over, method.currency) == (350, 4000, "EUR")
    assert (method.delivery_days, method.position, method.active) == ("2 working days", 5, True)
    assert audits()[-1].action == "settings.shipping_created"

    assert "island" in [m.code for m in methods_for("IE")]
    assert "island" not in [m.code for m in methods_for("FR")]
    mug = factories.product("Mug", price=1500, stock=10).variants[0]
    quote = build_quote(
        items_for([(mug, 1)]), currency="EUR", country="IE", region="", method=method
    )
    assert (quote.shipping, quote.shipping_method, quote.total) == (350, "Island Courier", 1850)
    free = build_quote(
        items_for([(mug, 3)]), currency="EUR", country="IE", region="", method=method
    )
    assert free.shipping == 0  # 45.00 is over the 40.00 threshold

    listing = admin.get("/admin/settings/shipping").get_data(as_text=True)
    assert "Island Courier" in listing and "€3.50" in listing and "IE, GB" in listing


def test_editing_a_rate_changes_the_next_quote(admin):
    standard = method_by_code("standard")
    form = admin.get(f"/admin/settings/shipping/{standard.id}").get_data(as_text=True)
    assert input_value(form, "price") == "4.95" and input_value(form, "free_over") == "50.00"
    data = {
        "name": "Standard delivery",
        "code": "standard",
        "countries": "",
        "price": "6",
        "free_over": "",
        "delivery_days": "3-5 working days",
        "position": "0",
        "active": "y",
    }
    assert post(admin, f"/admin/settings/shipping/{standard.id}", data).status_code == 303
    mug = factories.product("Mug", price=9000, stock=10).variants[0]
    method = method_by_code("standard")
    quote = build_quote(
        items_for([(mug, 1)]), currency="EUR", country="IE", region="", method=method
    )
    assert quote.shipping == 600  # no more free shipping over 50.00
    [event] = audits()
    assert event.action == "settings.shipping_updated"
    assert "price: 495 → 600" in event.detail and "free_over: 5000 → —" in event.detail


def test_a_deactivated_method_is_no_longer_offered(admin):
    express = method_by_code("express")
    data = {
        "name": express.name,
        "code": "express",
        "countries": "",
        "price": "12.95",
        "free_over": "",
        "delivery_days": express.delivery_days,
        "position": "1",
    }  # "active" unticked
    assert post(admin, f"/admin/settings/shipping/{express.id}", data).status_code == 303
    assert method_by_code("express").active is False
    assert "express" not in [m.code for m in methods_for("IE")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "1,234.50", "Enter the amount as a number like 19.99"),
        ("price", "-1", "Enter the amount as a number like 19.99"),
        ("price", "4.955", "Use at most 2 decimal places, like 19.99."),
        ("price", "NaN", "Enter the amount as a number like 19.99"),
        ("price", "1e3", "Enter the amount as a number like 19.99"),
        ("price", "99999999", "The amount must be at most 1,000,000."),
        ("price", "", "Enter the price (0 for free)."),
        ("free_over", "0", "Enter an amount above zero, or leave it empty."),
        ("code", "Standard", "Another shipping method already uses the code standard."),
        ("code", "no spaces", "Use lowercase letters, digits, - and _"),
        ("countries", "IE, XX, Ireland", "Not ISO country codes: IRELAND, XX."),
        ("name", "", "Enter a name."),
        ("position", "first", "Enter a whole number, like 10."),
    ],
)
def test_a_shipping_method_with_a_mistake_is_shown_again(admin, field, value, message):
    response = post(admin, "/admin/settings/shipping/new", {**METHOD, field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    if field != "name":
        assert input_value(html, "name") == "Island Courier"  # what was typed is kept
    assert method_by_code("island") is None and audits() == []


def test_renaming_to_a_taken_code_is_refused(admin):
    express = method_by_code("express")
    data = {**METHOD, "code": "standard"}
    response = post(admin, f"/admin/settings/shipping/{express.id}", data)
    assert response.status_code == 422
    assert "already uses the code standard" in field_error(response.get_data(as_text=True), "code")
    assert method_by_code("express").name == "Express delivery"


def test_an_unused_method_can_be_deleted(admin):
    post(admin, "/admin/settings/shipping/new", METHOD)
    method = method_by_code("island")
    page = f"/admin/settings/shipping/{method.id}"
    assert "No order has used this method" in admin.get(page).get_data(as_text=True)
    response = post(admin, f"{page}/delete", {}, token_page=page)
    assert response.status_code == 303
    assert method_by_code("island") is None
    assert audits()[-1].action == "settings.shipping_deleted"


def test_a_method_that_orders_used_is_kept_and_can_be_deactivated(admin):
    standard = method_by_code("standard")
    db.session.add(
        Order(
            number="SS-USED-0001",
            email="ada@example.com",
            currency="EUR",
            subtotal=1000,
            total=1495,
            shipping=495,
            shipping_method="Standard delivery",
        )
    )
    commit_unit_of_work()
    page = f"/admin/settings/shipping/{standard.id}"
    assert "1 order used this method" in admin.get(page).get_data(as_text=True)
    response = post(admin, f"{page}/delete", {}, token_page=page)
    assert response.status_code == 409
    assert "kept for the record" in response.get_data(as_text=True)
    assert method_by_code("standard") is not None
    assert audits() == []


# --- Tax rates --------------------------------------------------------------------------------

RATE = {"country": "US", "region": "CA", "name": "Sales tax", "rate": "7.25"}


def test_a_new_tax_rate_is_used_by_the_next_quote(admin):
    assert post(admin, "/admin/settings/tax/new", RATE).status_code == 303  # "inclusive" unticked
    db.session.expire_all()
    rate = db.session.execute(
        sa.select(TaxRate).where(TaxRate.country == "US", TaxRate.region == "CA")
    ).scalar_one()
    assert (rate.name, rate.rate_bp, rate.inclusive) == ("Sales tax", 725, False)
    assert audits()[-1].action == "settings.tax_created"

    mug = factories.product("Mug", price=2000, stock=10).variants[0]
    standard = method_by_code("standard")
    quote = build_quote(
        items_for([(mug, 1)]), currency="EUR", country="US", region="CA", method=standard
    )
    assert quote.tax == tax_on(2000, 725, False) + tax_on(495, 725, False) == 145 + 36
    assert quote.total == 2000 + 495 + quote.tax and quote.tax_name == "Sales tax"
    listing = admin.get("/admin/settings/tax").get_data(as_text=True)
    assert "7.25 %" in listing and "Tax added on top" in listing


def test_editing_a_tax_rate_changes_the_next_quote(admin):
    ireland = db.session.execute(
        sa.select(TaxRate).where(TaxRate.country == "IE", TaxRate.region == "")
    ).scalar_one()
    page = f"/admin/settings/tax/{ireland.id}"
    form = admin.get(page).get_data(as_text=True)
    assert input_value(form, "rate") == "23"
    data = {"country": "IE", "region": "", "name": "VAT", "rate": "21.5", "inclusive": "y"}
    assert post(admin, page, data).status_code == 303
    mug = factories.product("Mug", price=12300, stock=10).variants[0]
    quote = build_quote(
        items_for([(mug, 1)]),
        currency="EUR",
        country="IE",
        region="",
        method=method_by_code("standard"),
    )
    assert quote.tax == tax_on(12300, 2150, True)
    assert "rate_bp: 2300 → 2150" in audits()[-1].detail


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rate", "101", "Enter a percentage from 0 to 100."),
        ("rate", "8.255", "Use two decimal places at most"),
        ("rate", "8,25", "Use a dot for decimals"),
        ("rate", "-5", "Enter a percentage like 23 or 8.25."),
        ("rate", "", "Enter the rate."),
        ("country", "", "Choose a country."),
        ("country", "XX", "Not a valid choice"),
        ("name", "", "Enter a name, like VAT."),
    ],
)
def test_a_tax_rate_with_a_mistake_is_shown_again(admin, field, value, message):
    response = post(admin, "/admin/settings/tax/new", {**RATE, field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert audits() == []


def test_a_second_rate_for_the_same_place_is_refused(admin):
    response = post(admin, "/admin/settings/tax/new", {**RATE, "country": "IE", "region": ""})
    assert response.status_code == 422
    assert "already a tax rate for IE" in field_error(response.get_data(as_text=True), "country")
    assert post(admin, "/admin/settings/tax/new", RATE).status_code == 303
    again = post(admin, "/admin/settings/tax/new", {**RATE, "rate": "8"})
    assert "already a tax rate for US, region CA" in field_error(
        again.get_data(as_text=True), "region"
    )


def test_deleting_a_tax_rate_stops_charging_it(admin):
    germany = db.session.execute(sa.select(TaxRate).where(TaxRate.country == "DE")).scalar_one()
    germany_id = germany.id
    page = f"/admin/settings/tax/{germany_id}"
    assert post(admin, f"{page}/delete", {}, token_page=page).status_code == 303
    db.session.expire_all()
    assert db.session.get(TaxRate, germany_id) is None
    assert audits()[-1].action == "settings.tax_deleted"
    mug = factories.product("Mug", price=2000, stock=10).variants[0]
    quote = build_quote(
        items_for([(mug, 1)]),
        currency="EUR",
        country="DE",
        region="",
        method=method_by_code("standard"),
    )
    assert quote.tax == 0


def test_checkout_offers_a_zone_method_and_quotes_its_price(client, db):
    """The web checkout, as a shopper meets a method staff limited to some countries."""
    from tests.checkout.helpers import add_to_cart, submit_details

    sign_in_staff(client, "admin")
    assert post(client, "/admin/settings/shipping/new", METHOD).status_code == 303
    mug = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, mug.id, 1)
    assert "Island Courier" in client.get("/checkout").get_data(as_text=True)
    response = submit_details(client, shipping_method="island")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Island Courier" in review and "€3.50" in review
    refused = submit_details(
        client, shipping_method="island", shipping_country="FR", shipping_postal_code="75001"
    )
    assert "We do not deliver there with that option." in refused.get_data(as_text=True)

"""CSV exports: streamed, dated file names, formula injection neutralised, orders in decimal
currency units, customers without secrets, each gated by its own permission and audited."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from app import exports
from app.accounts.models import AuditEvent
from app.accounts.permissions import ROLE_PERMISSIONS
from app.catalog import csv_format
from app.catalog.services import VariantInput
from app.db import commit_unit_of_work, utcnow
from app.extensions import db as _db
from app.orders.models import Order, OrderLine
from app.payments.models import Payment
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories

PATHS = {
    "products": "/admin/imports/export/products.csv",
    "orders": "/admin/imports/export/orders.csv",
    "customers": "/admin/imports/export/customers.csv",
}


def read(response) -> list[dict[str, str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheets then read it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def make_order(number: str, user=None, **values) -> Order:
    order = Order(
        number=number,
        user_id=user.id if user else None,
        email=user.email if user else "guest@example.com",
        currency="EUR",
        subtotal=values.get("subtotal", 4998),
        shipping=values.get("shipping", 495),
        tax=values.get("tax", 917),
        discount=values.get("discount", 500),
        total=values.get("total", 4993),
        status=values.get("status", "paid"),
        shipping_method="Standard",
        shipping_address={"country": "IE", "line1": "1 Main St"},
        paid_at=utcnow(),
    )
    order.lines.append(
        OrderLine(product_name="Mug", sku="MUG-1", unit_price=2499, quantity=2, line_total=4998)
    )
    _db.session.add(order)
    _db.session.flush()
    return order


def test_products_export_is_the_import_format_streamed_and_dated(client, db):
    factories.product(
        "Lamp",
        variants=[
            VariantInput(sku="LAMP-1", price=1999, options={"Colour": "Red"}, stock=3,
                         compare_at_price=2500),
            VariantInput(sku="LAMP-2", price=2100, options={"Colour": "Blue"}, stock=0),
        ],
    )  # fmt: skip
    commit_unit_of_work()
    staff = sign_in_staff(client)
    response = client.get(PATHS["products"])
    assert response.status_code == 200
    assert response.was_streamed
    assert response.mimetype == "text/csv"
    today = utcnow().date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="products-{today}.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = read(response)
    assert list(rows[0]) == list(csv_format.COLUMN_NAMES)
    assert [
        (r["sku"], r["price"], r["compare_at_price"], r["stock"], r["options"]) for r in rows
    ] == [
        ("LAMP-1", "19.99", "25.00", "3", "Colour=Red"),
        ("LAMP-2", "21.00", "", "0", "Colour=Blue"),
    ]
    assert rows[0]["handle"] == "lamp" and rows[0]["status"] == "published"
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "exports.products")
    ).scalar_one()
    assert event.actor_id == staff.id and event.target == f"products-{today}.csv"


def test_formula_injection_is_neutralised(client, db):
    for value, expected in [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Plain = fine", "Plain = fine"),
        (-5, "'-5"),
        (None, ""),
    ]:
        assert exports.safe_cell(value) == expected
    make_user("evil@example.com", name="=cmd|' /C calc'!A0")
    commit_unit_of_work()
    sign_in_staff(client)
    rows = read(client.get(PATHS["customers"]))
    assert [r["name"] for r in rows if r["email"] == "evil@example.com"] == ["'=cmd|' /C calc'!A0"]


def test_orders_export_has_decimal_totals(client, db):
    customer = make_user("buyer@example.com")
    make_order("SS-1001", customer)
    partly = make_order("SS-1002", None, subtotal=1000, shipping=0, tax=0, discount=0, total=1000)
    partly.payments.append(
        Payment(
            provider="sandbox", session_id="cs_1002", amount=1000, amount_refunded=250,
            currency="EUR", status="partially_refunded",
        )
    )  # fmt: skip
    commit_unit_of_work()
    sign_in_staff(client)
    response = client.get(PATHS["orders"])
    assert response.status_code == 200
    rows = read(response)
    assert list(rows[0]) == list(exports.ORDER_COLUMNS)
    first, second = rows
    assert (first["number"], first["customer_id"], first["email"]) == (
        "SS-1001",
        str(customer.id),
        "buyer@example.com",
    )
    assert (first["subtotal"], first["shipping"], first["discount"], first["tax"]) == (
        "49.98",
        "4.95",
        "5.00",
        "9.17",
    )
    assert first["total"] == "49.93" and first["items"] == "2"
    assert first["refunded"] == "0.00"
    assert first["shipping_country"] == "IE" and first["status"] == "paid"
    assert second["total"] == "10.00" and second["shipping"] == "0.00"
    assert second["refunded"] == "2.50"
    assert second["customer_id"] == ""


def test_customers_export_leaves_out_secrets_staff_and_erased_accounts(client, db):
    customer = make_user("ada@example.com", name="Ada Lovelace")
    customer.totp_secret = "JBSWY3DPEHPK3PXP"
    customer.phone = "+353851234567"
    gone = make_user("gone@example.com")
    gone.deleted_at = utcnow()
    make_order("SS-2001", customer)
    commit_unit_of_work()
    sign_in_staff(client)
    response = client.get(PATHS["customers"])
    body = response.get_data(as_text=True)
    rows = read(response)
    assert list(rows[0]) == list(exports.CUSTOMER_COLUMNS)
    assert [r["email"] for r in rows] == ["ada@example.com"]
    assert rows[0]["orders"] == "1" and rows[0]["email_verified"] == "yes"
    assert rows[0]["phone"] == "'+353851234567"  # a leading + is a formula trigger too
    assert customer.password_hash not in body and "JBSWY3DPEHPK3PXP" not in body
    assert "staff@example.com" not in body


def test_exports_stream_in_blocks(db, app, monkeypatch):
    """A large export is produced block by block, never as one list of rows."""
    monkeypatch.setattr(exports, "FLUSH_ROWS", 2)
    blocks = list(exports.stream_csv(["a"], ([i] for i in range(5))))
    assert len(blocks) == 3
    assert "".join(blocks) == "\ufeffa\r\n0\r\n1\r\n2\r\n3\r\n4\r\n"


@pytest.mark.parametrize(
    ("kind", "permission"),
    [("products", "catalog.edit"), ("orders", "orders.view"), ("customers", "customers.view")],
)
def test_each_export_needs_its_permission(client, db, monkeypatch, kind, permission):
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    assert client.get(PATHS[kind]).status_code == 404

    staff_client = client.application.test_client()
    sign_in_staff(staff_client)
    monkeypatch.setitem(ROLE_PERMISSIONS, "staff", ROLE_PERMISSIONS["staff"] - {permission})
    assert staff_client.get(PATHS[kind]).status_code == 403
    others = [k for k in PATHS if k != kind]
    for other in others:
        assert staff_client.get(PATHS[other]).status_code == 200
    page = staff_client.get("/admin/imports")
    if permission == "catalog.edit":
        assert page.status_code == 403
    else:
        assert PATHS[kind] not in page.get_data(as_text=True)
        assert all(PATHS[o] in page.get_data(as_text=True) for o in others)
    audited = db.session.execute(
        sa.select(AuditEvent.action).where(AuditEvent.action.like("exports.%"))
    ).scalars()
    assert f"exports.{kind}" not in set(audited)


def read_xlsx(response) -> list[list]:
    """The first sheet's rows as Excel would show them (openpyxl reads the real format)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def test_excel_exports_have_numbers_dates_and_inert_text(client, db):
    from datetime import datetime
    from decimal import Decimal

    customer = make_user("buyer@example.com", name="=cmd|' /C calc'!A0")
    make_order("SS-1001", customer)
    commit_unit_of_work()
    staff = sign_in_staff(client)
    page = client.get("/admin/imports").get_data(as_text=True)
    assert 'href="/admin/imports/export/orders.xlsx"' in page

    response = client.get("/admin/imports/export/orders.xlsx")
    assert response.status_code == 200 and response.was_streamed
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    today = utcnow().date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="orders-{today}.xlsx"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    header, first = read_xlsx(response)
    assert header == list(exports.ORDER_COLUMNS)
    order = dict(zip(header, first, strict=True))
    assert order["number"] == "SS-1001"
    # Amounts are numbers a sum can add up; dates are dates.
    assert [Decimal(str(order[k])) for k in ("subtotal", "shipping", "total", "refunded")] == [
        Decimal("49.98"), Decimal("4.95"), Decimal("49.93"), Decimal("0")
    ]  # fmt: skip
    assert isinstance(order["created_at"], datetime) and order["items"] == 2
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "exports.orders")
    ).scalar_one()
    assert event.actor_id == staff.id and event.target == f"orders-{today}.xlsx"

    # A name that looks like a formula stays text: no quote needed, nothing runs.
    from openpyxl import load_workbook

    customers = client.get("/admin/imports/export/customers.xlsx")
    book = load_workbook(io.BytesIO(customers.get_data()))
    cells = [c for row in book.worksheets[0].iter_rows() for c in row if c.value]
    evil = next(c for c in cells if str(c.value).startswith("=cmd"))
    assert evil.data_type == "s" and evil.value == "=cmd|' /C calc'!A0"
    assert all(c.data_type != "f" for c in cells)


def test_excel_products_export_matches_the_csv(client, db):
    factories.product(
        "Lamp",
        variants=[
            VariantInput(sku="LAMP-1", price=1900, options={}, stock=3, compare_at_price=2500)
        ],
    )
    commit_unit_of_work()
    sign_in_staff(client)
    csv_rows = read(client.get("/admin/imports/export/products.csv"))
    header, row = read_xlsx(client.get("/admin/imports/export/products.xlsx"))
    assert header == list(csv_rows[0])
    excel = dict(zip(header, row, strict=True))
    assert excel["sku"] == "LAMP-1" and excel["stock"] == 3
    assert (excel["price"], excel["compare_at_price"]) == (19, 25)  # shown as 19.00, 25.00
    assert csv_rows[0]["price"] == "19.00"


def test_export_formats_are_only_csv_and_xlsx(client, db):
    sign_in_staff(client)
    assert client.get("/admin/imports/export/orders.xls").status_code == 404
    assert client.get("/admin/imports/export/orders.").status_code == 404


def test_excel_says_what_it_cannot_hold(monkeypatch):
    """Excel keeps 32,767 characters a cell and 1,048,576 rows a sheet: longer is cut, and a
    "Read me" sheet names what, instead of losing it silently."""
    from openpyxl import load_workbook

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 4)
    rows = [["a", "x" * 40_000], ["b", "short"], ["c", "d"], ["e", "f"]]
    data = b"".join(exports.stream_xlsx(["name", "description"], rows, sheet="products"))
    book = load_workbook(io.BytesIO(data))
    sheet, readme = book["products"], book["Read me"]
    assert len(sheet["B2"].value) == 32_767 and sheet["A4"].value == "c"
    assert sheet.max_row == 4  # header and three rows
    notes = [row[0] for row in readme.iter_rows(min_row=2, values_only=True)]
    assert notes[0].startswith("B2 (description) holds 40,000 characters")
    assert notes[1].startswith("Only the first 3 rows fit in Excel")

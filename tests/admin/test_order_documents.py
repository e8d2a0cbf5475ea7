"""Invoice and packing slip PDFs, read back with pypdf."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from app.db import commit_unit_of_work
from app.orders import documents as orders_pdf
from app.orders.refunds import issue_refund
from app.store.settings import StoreDetails
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff
from tests.admin.test_orders import paid_order, unpaid_order

UNUSUAL = "Ωmega Кофе 日本茶 – “Fancy” Crème brûlée"


def text_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(text.split())  # table cells wrap long names over lines


@pytest.fixture
def store(monkeypatch):
    details = StoreDetails(
        name="Lovelace Goods",
        legal_name="Lovelace Goods Ltd",
        address_lines=["1 Engine Row", "Dublin 2"],
        email="hello@lovelace.example",
        vat_number="IE1234567T",
    )
    monkeypatch.setattr(orders_pdf, "store_details", lambda: details)
    return details


def test_invoice_lists_the_store_customer_lines_totals_and_vat(client, db, store):
    order = paid_order((("Merino Jumper", 8900, 1), ("Stoneware Mug", 1500, 2)))
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = client.get(f"/admin/orders/{order.id}/invoice.pdf")
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="invoice-{order.number}.pdf"'
    )
    assert "no-store" in response.headers["Cache-Control"]
    text = text_of(response)
    for expected in [
        "Lovelace Goods",
        "1 Engine Row",
        "VAT number: IE1234567T",
        "Invoice",
        order.number,
        "Merino Jumper",
        "Stoneware Mug",
        "Ada Lovelace",
        "12 Analytical Street",
        "Ireland",
        "ada@example.com",
        "€89.00",
        "€30.00",
        "€119.00",  # total: free shipping above 50
        "VAT 23%",
        "€22.25",  # the VAT in 119.00 at 23 %
        "€96.75",  # net
    ]:
        assert expected in text, expected


def test_invoice_shows_refunds_and_what_remains_paid(client, db, store):
    order = paid_order((("Merino Jumper", 8900, 1), ("Stoneware Mug", 1500, 2)))
    mug = next(line for line in order.lines if line.product_name == "Stoneware Mug")
    issue_refund(order, lines={mug.id: 1}, reason="chipped")
    commit_unit_of_work()  # the sandbox answers at once: the refund is confirmed
    sign_in_staff(client, "staff")
    text = text_of(client.get(f"/admin/orders/{order.id}/invoice.pdf"))
    assert "Refunded on" in text and "€15.00 (chipped)" in text
    assert "Total refunded €15.00; net paid €104.00." in text


def test_packing_slip_has_items_and_address_but_no_prices(client, db, store):
    order = paid_order((("Merino Jumper", 8900, 1), ("Stoneware Mug", 1500, 3)))
    mug = order.lines[1]
    issue_refund(order, lines={mug.id: 1})  # one mug refunded before packing: not packed
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = client.get(f"/admin/orders/{order.id}/packing-slip.pdf")
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="packing-slip-{order.number}.pdf"'
    )
    text = text_of(response)
    for expected in ["Packing slip", order.number, "Merino Jumper", "Stoneware Mug", "Dublin"]:
        assert expected in text, expected
    assert "€" not in text and "89.00" not in text
    assert "3 item(s) in 2 line(s)." in text


def test_any_script_in_names_and_addresses_never_breaks_a_document(client, db, store):
    order = paid_order(((UNUSUAL, 1000, 1),))
    order.shipping_address = {**order.shipping_address, "full_name": "Zoë 王 Ørsted 🚀"}
    order.billing_address = dict(order.shipping_address)
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    invoice = text_of(client.get(f"/admin/orders/{order.id}/invoice.pdf"))
    slip = text_of(client.get(f"/admin/orders/{order.id}/packing-slip.pdf"))
    for text in (invoice, slip):
        assert order.number in text
        assert "Crème brûlée" in text and "Zoë" in text and "Ørsted" in text
        assert "Ωmega Кофе" in text  # the shipped font has Greek and Cyrillic
        assert "日本茶" not in text and "Zoë ? Ørsted ?" in text  # CJK and emoji it lacks


def test_characters_the_font_lacks_become_base_letters_or_a_question_mark():
    glyphs = {ord(c) for c in "Lodz abc"}
    assert orders_pdf.printable("Łódź", glyphs) == "?odz"  # Ł has no decomposition
    assert orders_pdf.printable("日本\x00abc", glyphs) == "?? abc"


def test_documents_need_a_paid_order_and_staff(app, client, db):
    waiting = unpaid_order()
    order = paid_order()
    commit_unit_of_work()
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    assert client.get(f"/admin/orders/{order.id}/invoice.pdf").status_code == 404
    staff = app.test_client()
    sign_in_staff(staff, "staff")
    assert staff.get(f"/admin/orders/{order.id}/invoice.pdf").status_code == 200
    assert staff.get(f"/admin/orders/{waiting.id}/invoice.pdf").status_code == 404
    assert staff.get(f"/admin/orders/{waiting.id}/packing-slip.pdf").status_code == 404
    assert staff.get("/admin/orders/99999999999/packing-slip.pdf").status_code == 404


def test_a_document_adds_no_font_library_chatter_to_the_log(client, db, store, caplog):
    """fontTools logs each table it subsets at INFO: fifty lines per PDF in the shop's log."""
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    caplog.set_level("INFO")
    text_of(client.get(f"/admin/orders/{order.id}/invoice.pdf"))
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("fontTools")]

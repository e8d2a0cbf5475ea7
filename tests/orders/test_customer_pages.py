"""What a customer sees of their order, signed in or through the emailed link: refunds with
the net paid, a working tracking link, and their invoice."""

from __future__ import annotations

import pytest

from app.db import commit_unit_of_work
from app.orders.links import order_token
from app.orders.refunds import issue_refund
from tests.accounts.helpers import login, make_user
from tests.admin.test_orders import paid_order, unpaid_order


@pytest.fixture
def shipped(db):
    order = paid_order((("Merino Jumper", 2500, 2), ("Wool Hat", 1200, 1)))
    user = make_user("ada@example.com")
    order.user_id = user.id
    order.carrier, order.tracking_number = "An Post", "LX123456789IE"
    order.tracking_url = "https://track.example/LX123456789IE"
    issue_refund(order, lines={order.lines[0].id: 1}, reason="Too small")
    commit_unit_of_work()
    return order


def _pages(client, order):
    login(client)
    own = client.get(f"/account/orders/{order.number}")
    guest = client.application.test_client().get(f"/orders/{order_token(order)}")
    return own, guest


def test_refunds_tracking_and_invoice_on_both_doors(client, db, shipped):
    own, guest = _pages(client, shipped)
    for response in (own, guest):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "1 × Merino Jumper" in html and "€25.00" in html
        assert "<td>Refunded</td>" in html  # the sandbox settles refunds at once
        assert "You paid, after refunds" in html
        total = shipped.total - 2500
        assert f"€{total // 100}.{total % 100:02d}" in html
        assert (
            '<a href="https://track.example/LX123456789IE" rel="noopener noreferrer" '
            'target="_blank">LX123456789IE' in html
        )
        assert "Sent with An Post." in html
        assert "Download the invoice (PDF)" in html
    invoice = client.get(f"/account/orders/{shipped.number}/invoice.pdf")
    assert invoice.status_code == 200 and invoice.mimetype == "application/pdf"
    assert invoice.headers["Cache-Control"] == "no-store"
    assert invoice.get_data().startswith(b"%PDF")
    guest = client.application.test_client()
    by_link = guest.get(f"/orders/{order_token(shipped)}/invoice.pdf")
    assert by_link.status_code == 200 and by_link.get_data().startswith(b"%PDF")


def test_invoices_are_only_for_their_owner_and_paid_orders(client, db, shipped):
    make_user("eve@example.com")
    login(client, "eve@example.com")
    assert client.get(f"/account/orders/{shipped.number}/invoice.pdf").status_code == 404
    assert client.get("/orders/not-a-token/invoice.pdf").status_code == 404
    waiting = unpaid_order()
    commit_unit_of_work()
    anyone = client.application.test_client()
    assert anyone.get(f"/orders/{order_token(waiting)}/invoice.pdf").status_code == 404
    page = anyone.get(f"/orders/{order_token(waiting)}").get_data(as_text=True)
    assert "Download the invoice" not in page


def test_a_tracking_url_that_is_not_http_is_shown_as_text(client, db, shipped):
    shipped.tracking_url = "javascript:alert(1)"
    commit_unit_of_work()
    html = client.get(f"/orders/{order_token(shipped)}").get_data(as_text=True)
    assert "javascript:alert" not in html and "<strong>LX123456789IE</strong>" in html

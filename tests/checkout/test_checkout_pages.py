"""What shoppers and staff see around checkout: billing addresses kept and shown, the shop's
country first, reads that never write, guest orders that stay the guest's, money events in
the audit log, payments the shop cannot keep given back, and VAT that reads as included."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from pypdf import PdfReader

from app.accounts.models import AuditEvent
from app.checkout.completion import complete_session
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus, Refund
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import (
    add_to_cart,
    latest_order,
    path_of,
    pay,
    sandbox_action,
    submit_details,
    token,
)

BILLING = {
    "billing": "different",
    "billing_full_name": "Lovelace Accounts Ltd",
    "billing_line1": "1 Engine Row",
    "billing_city": "London",
    "billing_postal_code": "ec1a1bb",
    "billing_country": "GB",
}


def cart_with_mug(client, quantity=2, stock=5):
    variant = factories.product("Stoneware Mug", price=1500, stock=stock).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, quantity)
    return variant


def writes(statements) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_different_billing_address_is_on_the_review_the_order_and_the_invoice(app, client, db):
    cart_with_mug(client)
    assert submit_details(client, **BILLING).status_code == 303
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Billing address" in review and "Lovelace Accounts Ltd" in review
    assert "EC1A 1BB" in review and "United Kingdom" in review  # as the address book writes it
    sandbox_action(client, pay(client).headers["Location"], "pay")
    order = latest_order()
    assert order.billing_address["full_name"] == "Lovelace Accounts Ltd"
    assert order.shipping_address["full_name"] == "Ada Lovelace"
    mail = _db.session.execute(
        sa.select(Notification).where(Notification.template == "order-confirmation")
    ).scalar_one()
    link = path_of(mail.variables["order_url"])
    page = client.get(link).get_data(as_text=True)
    assert "Lovelace Accounts Ltd" in page and "1 Engine Row" in page
    assert "Lovelace Accounts Ltd" in mail.variables["billing_address"]
    staff = app.test_client()
    sign_in_staff(staff, "staff")
    pdf = staff.get(f"/admin/orders/{order.id}/invoice.pdf")
    text = " ".join(
        "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages).split()
    )
    assert "Billed to Lovelace Accounts Ltd" in text and "Shipped to Ada Lovelace" in text


def test_the_same_billing_address_says_so(client, db):
    cart_with_mug(client)
    submit_details(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Same as the shipping address" in review


def test_a_billing_address_typed_under_same_as_shipping_is_never_dropped_silently(client, db):
    cart_with_mug(client)
    response = submit_details(client, **{**BILLING, "billing": "same"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You filled in a billing address" in html
    assert 'class="billing-choice billing-shown"' in html  # the fields show, to be cleared
    assert client.get("/checkout/review").headers["Location"] == "/checkout"  # nothing saved


def test_billing_fields_follow_the_address_books_rules(client, db):
    cart_with_mug(client)
    response = submit_details(client, **{**BILLING, "billing_postal_code": "12345"})
    html = response.get_data(as_text=True)
    assert "Enter a valid postcode for United Kingdom, for example SW1A 1AA." in html
    assert '<a href="#billing_postal_code">' in html  # the error summary links to the field


def test_the_form_starts_in_the_shops_country_with_a_delivery_option_chosen(client, db, app):
    cart_with_mug(client)
    html = client.get("/checkout").get_data(as_text=True)
    assert re.search(r'<option selected value="GB">United Kingdom</option>', html)
    assert re.search(r'checked[^>]*value="standard"|value="standard"[^>]*checked', html)
    api = client.get("/api/v1/checkout/shipping-methods").get_json()
    assert api["country"] == app.config["SHOP_DEFAULT_REGION"] == "GB"


def test_a_signed_in_customer_starts_from_their_default_address(app, client, db):
    from app.accounts.models import Address

    user = make_user()
    _db.session.add(
        Address(
            user_id=user.id,
            full_name="Ada L",
            line1="5 Rue Lovelace",
            city="Paris",
            postal_code="75001",
            country="FR",
            is_default_shipping=True,
        )
    )
    commit_unit_of_work()
    login(client)
    cart_with_mug(client)
    html = client.get("/checkout").get_data(as_text=True)
    assert 'value="5 Rue Lovelace"' in html
    assert re.search(r'<option selected value="FR">France</option>', html)


def test_reading_the_cart_the_form_and_the_review_writes_nothing(client, db, count_queries):
    from app.catalog.services import set_variant_price

    variant = cart_with_mug(client)
    submit_details(client)
    set_variant_price(variant, 1200)  # a price change the pages point out
    commit_unit_of_work()
    count_queries.statements.clear()
    assert "Price changed from €15.00 to €12.00" in client.get("/cart").get_data(as_text=True)
    assert client.get("/checkout/review").status_code == 200
    assert client.get("/checkout").status_code == 200
    assert writes(count_queries.statements) == []


def test_signing_in_takes_over_an_unpaid_guest_order_but_never_a_paid_one(client, db):
    cart_with_mug(client, quantity=1)
    make_user()
    commit_unit_of_work()
    submit_details(client, email="guest@example.com")
    sandbox_action(client, pay(client).headers["Location"], "pay")
    paid = latest_order()
    assert paid.status == OrderStatus.PAID
    add_to_cart(client, paid.lines[0].variant_id, 1)
    submit_details(client, email="guest@example.com")
    pay(client)  # a second purchase, still unpaid
    waiting = latest_order()
    login(client)  # somebody signs in on this browser
    _db.session.expire_all()
    assert _db.session.get(Order, paid.id).user_id is None  # stays the guest's
    assert _db.session.get(Order, waiting.id).user_id is not None  # the payment in progress
    listing = client.get("/account/orders").get_data(as_text=True)
    assert waiting.number in listing and paid.number not in listing
    assert client.get(f"/account/orders/{paid.number}").status_code == 404


def test_payments_and_customer_cancellations_are_audited(app, db):
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    make_user()
    commit_unit_of_work()
    ada = app.test_client()
    login(ada)
    add_to_cart(ada, variant.id, 1)
    submit_details(ada)
    sandbox_action(ada, pay(ada).headers["Location"], "pay")
    order = latest_order()
    page = f"/account/orders/{order.number}"
    ada.post(f"{page}/cancel", data={"csrf_token": token(ada, page)})
    actions = [
        (a.action, a.target)
        for a in _db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.id)).scalars()
        if a.target == order.number
    ]
    assert actions == [
        ("payment.received", order.number),
        ("orders.refund", order.number),
        ("orders.cancel", order.number),
    ]
    refund_audit = _db.session.execute(
        sa.select(AuditEvent).where(
            AuditEvent.action == "orders.refund", AuditEvent.target == order.number
        )
    ).scalar_one()
    assert "(customer)" in refund_audit.detail and refund_audit.actor_id == order.user_id


def _paid_twice(client):
    """One order, two sessions both paid: the second press in another tab after the first
    session closed early, say."""
    from app.checkout.sessions import new_attempt, record, send, send_of

    cart_with_mug(client, quantity=1)
    submit_details(client)
    first = pay(client).headers["Location"]
    order = latest_order()
    attempt = new_attempt(order, success_url="https://s/{CHECKOUT_SESSION_ID}", cancel_url="c")
    second = record(attempt, send(send_of(attempt)))
    commit_unit_of_work()
    return order, first.rsplit("/", 1)[1], second.session_id


def test_an_order_paid_twice_gives_the_second_payment_back_and_tells_staff(
    app, client, db, monkeypatch
):
    from app.payments import sandbox
    from app.payments.models import SandboxSession

    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    order, first, second = _paid_twice(client)
    for session_id in (first, second):
        sandbox.act(_db.session.get(SandboxSession, session_id).id, "pay")
        complete_session(session_id)
        commit_unit_of_work()
    order = latest_order()
    assert order.status == OrderStatus.PAID
    [refund] = _db.session.execute(sa.select(Refund)).scalars().all()
    assert (refund.amount, refund.status) == (order.total, "succeeded")  # sent and settled
    assert refund.payment.session_id == second
    assert "Paid twice" in order.needs_attention
    [alert] = _db.session.execute(
        sa.select(Notification).where(Notification.template == "payment-anomaly")
    ).scalars()
    assert alert.variables["order_number"] == order.number
    assert "refunded automatically" in alert.variables["action"]
    audited = _db.session.execute(
        sa.select(AuditEvent.detail).where(
            AuditEvent.action == "orders.refund", AuditEvent.target == order.number
        )
    ).scalar_one()
    assert "(automatic)" in audited


def test_a_replaced_orders_session_paid_anyway_is_refunded_not_fulfilled(
    app, client, db, monkeypatch
):
    """The old tab's session could not be closed in time and was paid: the shopper has the
    newer order, so this payment goes back and staff hear of it."""
    from app.payments import sandbox

    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    variant = cart_with_mug(client, quantity=1)
    submit_details(client)
    old_session = pay(client).headers["Location"].rsplit("/", 1)[1]
    old = latest_order()
    add_to_cart(client, variant.id, 1)
    pay(client)  # replaces the old order (its session is expired at the provider)
    from app.payments.models import SandboxSession

    row = _db.session.get(SandboxSession, old_session)
    row.status = "open"  # ...but the expiry never reached it, and the shopper paid there
    commit_unit_of_work()
    sandbox.act(old_session, "pay")
    complete_session(old_session)
    commit_unit_of_work()
    _db.session.expire_all()
    old = _db.session.get(Order, old.id)
    assert old.status == OrderStatus.REFUNDED  # cancelled, then its payment given back
    assert old.refunds[0].amount == old.total
    assert (
        _db.session.execute(
            sa.select(sa.func.count()).where(Notification.template == "payment-anomaly")
        ).scalar_one()
        == 1
    )


def test_totals_say_vat_is_included_rather_than_adding_it(client, db):
    cart_with_mug(client)
    submit_details(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Includes VAT" in review
    assert not re.search(r">\s*VAT\s*<", review)  # never a VAT row above the total
    sandbox_action(client, pay(client).headers["Location"], "pay")
    mail = _db.session.execute(
        sa.select(Notification).where(Notification.template == "order-confirmation")
    ).scalar_one()
    from app.notifications.rendering import render

    text = render(mail).text
    tax = latest_order().tax
    assert tax == 654  # 23 % Irish VAT inside €34.95 (goods and delivery)
    assert "Total: €34.95\n(includes VAT €6.54)" in text
    assert "Tax:" not in text


def test_checkout_and_order_pages_are_never_stored(client, db):
    cart_with_mug(client)
    assert client.get("/checkout").headers["Cache-Control"] == "no-store"
    submit_details(client)
    assert client.get("/checkout/review").headers["Cache-Control"] == "no-store"
    session_url = pay(client).headers["Location"]
    assert client.get(path_of(session_url)).headers["Cache-Control"] == "no-store"
    back = sandbox_action(client, session_url, "pay").headers["Location"]
    assert client.get(path_of(back)).headers["Cache-Control"] == "no-store"


def test_a_cart_emptied_in_another_tab_while_the_form_is_sent_goes_back_to_the_cart(
    client, db, monkeypatch
):
    from app.checkout import details
    from app.checkout.errors import CheckoutError

    cart_with_mug(client)
    form = client.get("/checkout")
    assert form.status_code == 200

    def emptied(view):
        raise CheckoutError("Your cart is empty.", code="cart-empty")

    monkeypatch.setattr(details, "check_cart", emptied)
    response = submit_details(client)
    assert (response.status_code, response.headers["Location"]) == (303, "/cart")

"""Codes and automatic promotions through the website, the sandbox and the Stripe fake: the
cart, the review, the order, the e-mail, the invoice, and each code's uses."""

import io
from datetime import timedelta

import sqlalchemy as sa
from pypdf import PdfReader

from app.checkout.tasks import release_expired_checkouts
from app.db import commit_unit_of_work, utcnow
from app.extensions import db as _db
from app.notifications.models import Notification
from app.orders.models import OrderStatus
from app.promotions.models import Promotion, UseState
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import (
    add_to_cart,
    latest_order,
    pay,
    sandbox_action,
    submit_details,
    token,
)
from tests.promotions.helpers import promotion

HX = {"HX-Request": "true", "HX-Target": "cart-body"}


def apply(client, code, headers=None):
    return client.post(
        "/cart/code", data={"code": code, "csrf_token": token(client, "/cart")}, headers=headers
    )


def shirts(client, *, price=3000, quantity=2, stock=20):
    variant = factories.product("Linen Shirt", price=price, stock=stock).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, quantity)
    return variant


def fresh(model, ident):
    _db.session.expire_all()
    return _db.session.get(model, ident)


def test_a_code_typed_in_any_case_shows_its_discount_in_the_cart(client, db):
    promotion()
    shirts(client)
    response = apply(client, "  welcome10 ")
    assert response.status_code == 303
    page = client.get("/cart").get_data(as_text=True)
    assert "Applied the code WELCOME10." in page
    assert "Discount: Welcome 10 %" in page and "−€6.00" in page
    assert "After discounts" in page and "€54.00" in page
    assert 'Code <strong class="voucher-code">WELCOME10</strong> applied.' in page


def test_an_unknown_code_is_a_form_error_that_keeps_the_typing(client, db):
    shirts(client)
    response = apply(client, "NOPE-123")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "We do not know the code “NOPE-123”. Check it and try again." in html
    assert 'aria-invalid="true"' in html and 'value="NOPE-123"' in html
    swapped = apply(client, "NOPE-123", headers=HX)  # htmx: the cart body, error on the field
    assert swapped.status_code == 200
    assert 'id="voucher-code-error"' in swapped.get_data(as_text=True)


def test_hostile_codes_are_refused_plainly(client, db):
    shirts(client)
    for typed in ("\u0660\u0661", "x" * 5000, "'; DROP TABLE promotions;--", "１２３"):
        response = apply(client, typed)
        assert response.status_code == 422, typed
        assert "We do not know the code" in response.get_data(as_text=True)


def test_why_a_code_cannot_be_used(client, db):
    now = utcnow()
    promotion("Later", code="LATER", starts_at=now + timedelta(days=2))
    promotion(
        "Over", code="OVER", ends_at=now - timedelta(hours=1), starts_at=now - timedelta(days=3)
    )
    paused = promotion("Paused", code="PAUSED")
    paused.paused = True
    promotion(
        "Kitchen", code="KITCHEN", scope="items", category_ids=[factories.category("Kitchen").id]
    )
    promotion("Big spender", code="BIG", benefit="amount", value=1000, min_subtotal=10000)
    shirts(client)
    said = {
        code: apply(client, code).get_data(as_text=True)
        for code in ("LATER", "OVER", "PAUSED", "KITCHEN", "BIG")
    }
    assert "The code LATER can be used from" in said["LATER"]
    assert "The code OVER has expired." in said["OVER"]
    assert "The code PAUSED has expired." in said["PAUSED"]
    assert "The code KITCHEN does not apply to anything in your cart." in said["KITCHEN"]
    assert "The code BIG needs a spend of €100.00; add €40.00 more to use it." in said["BIG"]


def test_paying_with_a_code_the_order_email_and_invoice_show_the_discount(app, client, db):
    promotion()
    shirts(client)
    apply(client, "WELCOME10")
    submit_details(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Discount: Welcome 10 %" in review and "−€6.00" in review and "Pay €54.00" in review
    sandbox_action(client, pay(client).headers["Location"], "pay")
    order = latest_order()
    assert order.status == OrderStatus.PAID
    assert (order.subtotal, order.discount, order.shipping, order.total) == (6000, 600, 0, 5400)
    assert [line.discount for line in order.lines] == [600]
    assert order.payments[0].amount == 5400
    [given] = order.discounts
    assert (given.code, given.name, given.amount, given.state) == (
        "WELCOME10",
        "Welcome 10 %",
        600,
        UseState.USED,
    )
    assert _db.session.execute(sa.select(Promotion.uses)).scalar_one() == 1
    cart = client.get("/cart").get_data(as_text=True)
    assert "WELCOME10" not in cart  # used: the next order starts without it
    mail = _db.session.execute(
        sa.select(Notification).where(Notification.template == "order-confirmation")
    ).scalar_one()
    assert mail.variables["discounts"] == [
        {"name": "Welcome 10 %", "code": "WELCOME10", "target": "items", "amount": 600}
    ]
    staff = app.test_client()
    sign_in_staff(staff, "staff")
    pdf = staff.get(f"/admin/orders/{order.id}/invoice.pdf")
    text = " ".join(
        "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages).split()
    )
    assert "Discount: Welcome 10 % (WELCOME10) -€6.00" in text
    assert "€54.00" in text


def test_free_delivery_by_code(client, db):
    promotion("Free delivery", code="SHIPFREE", benefit="free_shipping", value=0)
    shirts(client, price=1500, quantity=1)
    apply(client, "SHIPFREE")
    assert "Free delivery with Free delivery (SHIPFREE)" in client.get("/cart").get_data(
        as_text=True
    )
    submit_details(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "you save €4.95" in review and "Pay €15.00" in review
    sandbox_action(client, pay(client).headers["Location"], "pay")
    order = latest_order()
    assert (order.shipping, order.discount, order.total) == (0, 0, 1500)
    assert [(d.target, d.amount) for d in order.discounts] == [("shipping", 495)]


def test_a_free_delivery_code_on_an_order_that_ships_free_anyway_never_blocks_paying(client, db):
    promotion("Free delivery", code="SHIPFREE", benefit="free_shipping", value=0)
    shirts(client, price=3000, quantity=2)  # over the €50.00 free-delivery threshold
    apply(client, "SHIPFREE")
    submit_details(client)
    assert "Pay €60.00" in client.get("/checkout/review").get_data(as_text=True)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    order = latest_order()
    assert (order.status, order.total, order.discounts) == (OrderStatus.PAID, 6000, [])
    assert _db.session.execute(sa.select(Promotion.uses)).scalar_one() == 0  # not used
    assert "SHIPFREE" not in client.get("/cart").get_data(as_text=True)  # the cart is done


def test_an_automatic_weekend_sale_needs_no_code(client, db):
    clothing = factories.category("Clothing")
    oxford = factories.product(
        "Oxford Shirt", price=4000, stock=5, category=factories.category("Shirts", clothing)
    )
    promotion(
        "Weekend: 15 % off clothing",
        code="",
        scope="items",
        value=15,
        category_ids=[clothing.id],
        starts_at=utcnow() - timedelta(hours=1),
        ends_at=utcnow() + timedelta(days=2),
    )
    commit_unit_of_work()
    add_to_cart(client, oxford.variants[0].id, 1)
    page = client.get("/cart").get_data(as_text=True)
    assert "Discount: Weekend: 15 % off clothing" in page and "−€6.00" in page


def test_only_automatic_sales_running_now_apply(client, db):
    """Over, not started yet, paused or in another currency: none of them; the one running
    now does (the moment and the currency are the query's bound values)."""
    shirt = factories.product("Oxford Shirt", price=4000, stock=5)
    now = utcnow()
    window = {"starts_at": now - timedelta(days=3), "ends_at": now - timedelta(minutes=1)}
    promotion("Over", code="", value=50, **window)
    promotion("Not yet", code="", value=40, starts_at=now + timedelta(minutes=1))
    promotion("Paused", code="", value=30).paused = True
    promotion("Dollars", code="", value=20).currency = "USD"
    promotion("Running", code="", value=10, ends_at=now + timedelta(minutes=5))
    commit_unit_of_work()
    add_to_cart(client, shirt.variants[0].id, 1)
    page = client.get("/cart").get_data(as_text=True)
    assert "Discount: Running" in page and "−€4.00" in page
    for name in ("Over", "Not yet", "Paused", "Dollars"):
        assert f"Discount: {name}" not in page


def test_a_code_that_stopped_applying_is_never_charged_at_full_price_silently(client, db):
    promotion("Big spender", code="BIG", benefit="amount", value=1000, min_subtotal=5000)
    variant = shirts(client, quantity=2)
    apply(client, "BIG")
    line_id = _db.session.execute(sa.text("SELECT id FROM cart_lines")).scalar_one()
    client.post(
        f"/cart/lines/{line_id}/quantity",
        data={"quantity": "1", "csrf_token": token(client, "/cart")},
    )
    cart = client.get("/cart").get_data(as_text=True)
    assert "Code BIG not applied: The code BIG needs a spend of €50.00" in cart
    submit_details(client)
    refused = pay(client)
    assert refused.headers["Location"] == "/cart"
    assert "Remove the code from your cart to pay without it." in client.get("/cart").get_data(
        as_text=True
    )
    assert latest_order() is None
    del variant


def test_a_single_use_code_is_held_by_an_unpaid_order_and_freed_when_it_expires(app, db):
    voucher = promotion("One only", code="ONCE", usage_limit=1)
    commit_unit_of_work()
    first, second = app.test_client(), app.test_client()
    shirts(first)
    apply(first, "ONCE")
    submit_details(first)
    pay(first)
    assert pay(first).status_code == 303  # paying again: its own held use is not "used up"
    order = latest_order()
    assert [d.state for d in order.discounts] == [UseState.HELD]
    assert fresh(Promotion, voucher.id).uses == 1
    shirts(second)
    assert "The code ONCE has been used up." in apply(second, "ONCE").get_data(as_text=True)
    order.reservation_expires_at = utcnow() - timedelta(minutes=1)
    commit_unit_of_work()
    assert release_expired_checkouts() == 1
    commit_unit_of_work()
    assert fresh(Promotion, voucher.id).uses == 0
    assert [d.state for d in latest_order().discounts] == [UseState.RELEASED]
    assert apply(second, "ONCE").status_code == 303


def test_once_per_customer(app, client, db):
    promotion("Welcome", code="HELLO", per_customer_limit=1)
    user = make_user("grace@example.com")
    commit_unit_of_work()
    login(client, "grace@example.com")
    shirts(client)
    apply(client, "HELLO")
    submit_details(client, email="grace@example.com")
    sandbox_action(client, pay(client).headers["Location"], "pay")
    assert latest_order().status == OrderStatus.PAID
    shirts(client)
    said = apply(client, "HELLO").get_data(as_text=True)
    assert "You have already used the code HELLO once." in said
    del user


def test_a_discount_never_takes_a_payment_below_the_cards_minimum(client, db):
    promotion("Staff gift", code="GIFT", value=100)
    shirts(client, price=1500, quantity=1)
    apply(client, "GIFT")
    submit_details(client)
    assert "Pay €4.95" in client.get("/checkout/review").get_data(as_text=True)  # delivery
    promotion("Free delivery", code="", benefit="free_shipping", value=0)
    commit_unit_of_work()
    refused = pay(client)
    assert refused.headers["Location"] == "/cart"
    page = client.get("/cart").get_data(as_text=True)
    assert "Card payments start at €0.50" in page
    assert latest_order() is None


def test_the_stripe_fake_is_asked_for_exactly_the_discounted_total(client, db, fake_stripe):
    promotion("Euro off", code="EURO", benefit="amount", value=100)
    shirts(client, price=1000, quantity=3)
    apply(client, "EURO")
    submit_details(client)
    response = pay(client)
    assert response.status_code == 303
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    order = latest_order()
    items = [
        (
            item["price_data"]["product_data"]["name"],
            int(item["price_data"]["unit_amount"]),
            int(item["quantity"]),
        )
        for item in request.params["line_items"]
    ]
    # €30.00 less €1.00 over 3 shirts: 2 at €9.67 and 1 at €9.66, plus delivery.
    assert items == [
        ("Linen Shirt, EURO applied", 967, 2),
        ("Linen Shirt, EURO applied", 966, 1),
        ("Shipping: Standard delivery", 495, 1),
    ]
    assert sum(a * q for _, a, q in items) == order.total == 3395
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    assert fake_stripe.sessions[session_id]["amount_total"] == order.total


def test_a_use_held_as_a_guest_counts_for_the_account_after_signing_in(app, client, db):
    promotion("Welcome", code="HELLO", per_customer_limit=1)
    user = make_user("grace@example.com")
    commit_unit_of_work()
    shirts(client)
    apply(client, "HELLO")
    submit_details(client, email="someone.else@example.com")
    pay(client)  # an unpaid order holds the use, then the guest signs in
    login(client, "grace@example.com")
    [held] = latest_order().discounts
    assert (held.state, held.user_id) == (UseState.HELD, user.id)
    shirts(client)
    said = apply(client, "HELLO").get_data(as_text=True)
    assert "You have already used the code HELLO once." in said

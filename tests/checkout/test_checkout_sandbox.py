"""Checkout end to end through the offline sandbox, the way the embedded default runs it."""

import re

import sqlalchemy as sa

from app.cart.models import CartLine
from app.catalog.models import Variant
from app.db import commit_unit_of_work
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus
from app.payments.models import Payment, WebhookEvent
from tests.accounts.helpers import login, make_user
from tests.api.helpers import TERMS
from tests.catalog import factories
from tests.checkout.helpers import (
    add_to_cart,
    latest_order,
    path_of,
    pay,
    sandbox_action,
    submit_details,
)


def stock(db, variant_id):
    db.session.expire_all()
    v = db.session.get(Variant, variant_id)
    return v.stock_on_hand, v.reserved


def setup_cart(client, db, quantity=2, price=1500, stock_level=5):
    variant = factories.product("Stoneware Mug", price=price, stock=stock_level).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, quantity)
    return variant


def test_guest_pays_in_the_sandbox_and_gets_a_paid_order(client, db):
    variant = setup_cart(client, db)
    details = submit_details(client)
    assert details.status_code == 303 and details.headers["Location"] == "/checkout/review"
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "€30.00" in review and "Pay €34.95" in review  # subtotal, and total with delivery
    assert "€4.95" in review  # standard delivery under the threshold
    response = pay(client)
    assert response.status_code == 303
    session_url = response.headers["Location"]
    assert "/sandbox/checkout/cs_sandbox_" in session_url
    order = latest_order()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.total == 3495
    assert stock(db, variant.id) == (5, 2)  # reserved while paying
    page = client.get(path_of(session_url)).get_data(as_text=True)
    assert "TEST MODE" in page and "€34.95" in page
    back = sandbox_action(client, session_url, "pay")
    assert (
        back.status_code == 303
        and "/checkout/success?session_id=cs_sandbox_" in back.headers["Location"]
    )
    confirmation = client.get(path_of(back.headers["Location"])).get_data(as_text=True)
    assert "Thank you for your order!" in confirmation and order.number in confirmation
    order = latest_order()
    assert order.status == OrderStatus.PAID
    assert stock(db, variant.id) == (3, 0)  # sold
    assert db.session.execute(sa.select(sa.func.count()).select_from(CartLine)).scalar() == 0
    mail = db.session.execute(
        sa.select(Notification).where(Notification.template == "order-confirmation")
    ).scalar_one()
    assert mail.to_address == "ada@example.com" and mail.status == "sent"
    assert mail.variables["total"] == 3495 and mail.variables["order_number"] == order.number
    event = db.session.execute(sa.select(WebhookEvent)).scalar_one()
    assert (event.type, event.status) == ("checkout.session.completed", "processed")
    # The guest link in the email shows the order without signing in.
    link = path_of(mail.variables["order_url"])
    assert order.number in client.get(link).get_data(as_text=True)


def test_prices_in_the_request_are_ignored(client, db):
    setup_cart(client, db, quantity=1, price=1500)
    submit_details(client)
    pay(client, total="1", amount="1", price="1", subtotal="1")
    assert latest_order().total == 1500 + 495


def test_a_declined_payment_is_retried_on_the_same_order(client, db):
    variant = setup_cart(client, db)
    submit_details(client)
    session_url = pay(client).headers["Location"]
    back = sandbox_action(client, session_url, "decline")
    assert "declined=1" in back.headers["Location"]
    cart_page = client.get(path_of(back.headers["Location"]), follow_redirects=True)
    html = cart_page.get_data(as_text=True)
    assert "Your card was declined" in html and "Stoneware Mug" in html
    order = latest_order()
    assert order.status == OrderStatus.PAYMENT_FAILED  # not "Cancelled": it can be paid yet
    assert stock(db, variant.id) == (5, 2)  # still held for the retry
    retry = pay(client).headers["Location"]
    assert retry != session_url  # a new session (the declined one is closed)...
    again = latest_order()
    assert again.id == order.id and again.number == order.number  # ...for the same order
    assert again.status == OrderStatus.PENDING_PAYMENT
    assert [p.attempt for p in again.payments] == [1, 2]
    sandbox_action(client, retry, "pay")
    assert latest_order().status == OrderStatus.PAID
    assert stock(db, variant.id) == (3, 0)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Order)).scalar() == 1


def test_back_from_the_payment_page_keeps_the_order_and_its_session(client, db):
    variant = setup_cart(client, db)
    submit_details(client)
    session_url = pay(client).headers["Location"]
    back = sandbox_action(client, session_url, "cancel")
    html = client.get(path_of(back.headers["Location"]), follow_redirects=True).get_data(
        as_text=True
    )
    assert "Payment cancelled. Your cart is as you left it." in html
    assert latest_order().status == OrderStatus.PENDING_PAYMENT
    assert stock(db, variant.id) == (5, 2)  # held until the session expires
    assert pay(client).headers["Location"] == session_url  # the same session, same order
    assert db.session.execute(sa.select(sa.func.count()).select_from(Order)).scalar() == 1


def test_fake_or_unpaid_session_on_the_success_page_pays_nothing(client, db):
    setup_cart(client, db)
    submit_details(client)
    session_url = pay(client).headers["Location"]
    assert client.get("/checkout/success?session_id=cs_fake_123").status_code == 404
    session_id = session_url.rsplit("/", 1)[1]
    page = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "We have not received your payment yet" in page and session_url in page
    assert latest_order().status == OrderStatus.PENDING_PAYMENT


def test_missing_details_are_explained(client, db):
    setup_cart(client, db)
    response = submit_details(client, email="not-an-email", shipping_city="")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter an email address like name@example.com." in html
    assert "Enter the town or city." in html  # the address book's words
    assert "There is a problem" in html  # summarised above the form


def test_empty_cart_cannot_check_out(client, db):
    assert client.get("/checkout").headers["Location"] == "/cart"


def test_signed_in_customer_sees_only_their_orders(app, db):
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    make_user("ada@example.com")
    make_user("bob@example.com")
    commit_unit_of_work()
    ada, bob = app.test_client(), app.test_client()
    login(ada, "ada@example.com")
    login(bob, "bob@example.com")
    add_to_cart(ada, variant.id)
    submit_details(ada)
    sandbox_action(ada, pay(ada).headers["Location"], "pay")
    order = latest_order()
    assert order.user_id is not None
    listing = ada.get("/account/orders").get_data(as_text=True)
    assert order.number in listing and "Paid" in listing
    assert ada.get(f"/account/orders/{order.number}").status_code == 200
    assert bob.get(f"/account/orders/{order.number}").status_code == 404
    assert order.number not in bob.get("/account/orders").get_data(as_text=True)
    assert re.search(r"Paid", ada.get("/account/orders?status=paid").get_data(as_text=True))


def test_payment_row_records_the_session(client, db):
    setup_cart(client, db)
    submit_details(client)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    payment = db.session.execute(sa.select(Payment)).scalar_one()
    assert payment.status == "succeeded" and payment.payment_intent.startswith("pi_sandbox_")
    assert payment.amount == latest_order().total


def test_customer_cancels_a_paid_order_before_shipping(app, db):
    from app.notifications.models import Notification

    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    make_user("ada@example.com")
    commit_unit_of_work()
    ada = app.test_client()
    login(ada, "ada@example.com")
    add_to_cart(ada, variant.id, 2)
    submit_details(ada)
    sandbox_action(ada, pay(ada).headers["Location"], "pay")
    order = latest_order()
    page = f"/account/orders/{order.number}"
    from tests.checkout.helpers import token

    done = ada.post(
        f"{page}/cancel", data={"csrf_token": token(ada, page)}, follow_redirects=True
    ).get_data(as_text=True)
    assert f"Order {order.number} is cancelled. We are refunding €34.95." in done
    # Cancelled, then refunded once the provider confirmed the refund.
    assert [e.to_status for e in latest_order().events][-2:] == ["cancelled", "refunded"]
    assert stock(db, variant.id) == (5, 0)  # back on the shelf
    again = ada.post(
        f"{page}/cancel", data={"csrf_token": token(ada, page)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "can no longer be cancelled" in again
    assert stock(db, variant.id) == (5, 0)
    mail = db.session.execute(
        sa.select(Notification).where(Notification.template == "order-cancelled")
    ).scalar_one()
    assert mail.variables["refund_total"] == 3495


def test_low_stock_alert_once_when_the_checkout_crosses_the_threshold(client, db, app, monkeypatch):
    from app.notifications.models import Notification

    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    variant = setup_cart(client, db, quantity=2, stock_level=6)  # leaves 4 <= threshold 5
    submit_details(client)
    session_url = pay(client).headers["Location"]  # the reservation crosses the line
    sandbox_action(client, session_url, "pay")  # the sale changes nothing available
    [alert] = (
        db.session.execute(sa.select(Notification).where(Notification.template == "low-stock"))
        .scalars()
        .all()
    )
    assert alert.to_address == "ops@example.com" and alert.status == "sent"
    assert alert.variables["items"] == [
        {"sku": variant.sku, "product_name": "Stoneware Mug", "available": 4, "threshold": 5}
    ]


def test_back_from_the_payment_page_with_most_of_the_stock_can_pay_again(client, db):
    """The cart's own reservation does not make its lines "Only N left" (3 of 5)."""
    variant = setup_cart(client, db, quantity=3)
    submit_details(client)
    first = pay(client)
    assert "/sandbox/checkout/" in first.headers["Location"]
    assert "Only 2 left" not in client.get("/cart").get_data(as_text=True)
    assert client.get("/checkout/review").status_code == 200
    again = pay(client)
    assert again.headers["Location"] == first.headers["Location"]
    [order] = db.session.execute(sa.select(Order).order_by(Order.id)).scalars().all()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert stock(db, variant.id) == (5, 3)


def test_a_changed_cart_replaces_the_unpaid_order_and_closes_its_session(client, db):
    variant = setup_cart(client, db, quantity=2)
    submit_details(client)
    first = pay(client).headers["Location"]
    add_to_cart(client, variant.id, 1)
    second = pay(client).headers["Location"]
    assert second != first
    old, new = db.session.execute(sa.select(Order).order_by(Order.id)).scalars().all()
    assert (old.status, new.status) == (OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT)
    assert old.payments[0].status == "expired"
    assert "is expired" in client.get(path_of(first)).get_data(as_text=True)  # not payable
    assert sandbox_action(client, first, "pay").status_code == 404
    assert stock(db, variant.id) == (5, 3)


def test_an_order_started_in_the_app_is_paid_on_the_website(app, client, db):
    """Same account, same cart, same details: the website's Pay finds the app's order and
    its session, because both doors go through one checkout service."""
    from tests.api.helpers import SHIPPING_ADDRESS, bearer, tokens

    make_user()
    commit_unit_of_work()
    login(client)
    variant = setup_cart(client, db, quantity=3)
    api = bearer(tokens(app.test_client())["access_token"])
    details = {"shipping_address": SHIPPING_ADDRESS, "shipping_method": "standard"}
    assert client.put("/api/v1/checkout/details", json=details, headers=api).status_code == 200
    started = client.post("/api/v1/checkout/session", json=TERMS, headers=api).get_json()
    assert client.get("/checkout/review").status_code == 200  # the app's details, shared
    response = pay(client)
    assert response.headers["Location"] == started["checkout_url"]
    [order] = db.session.execute(sa.select(Order)).scalars().all()
    assert order.number == started["order_number"]
    assert stock(db, variant.id) == (5, 3)


def test_a_guest_who_signs_in_during_payment_finds_the_order_in_the_account(client, db):
    variant = setup_cart(client, db, quantity=2)
    make_user()
    commit_unit_of_work()
    submit_details(client, email="typed@example.com")
    session_url = pay(client).headers["Location"]
    order = latest_order()
    login(client)
    assert "Stoneware Mug" not in client.get("/cart").get_data(as_text=True)
    listing = client.get("/account/orders").get_data(as_text=True)
    assert order.number in listing
    sandbox_action(client, session_url, "pay")
    assert latest_order().status == OrderStatus.PAID
    assert order.number in client.get(f"/account/orders/{order.number}").get_data(as_text=True)
    assert stock(db, variant.id) == (3, 0)

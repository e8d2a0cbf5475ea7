"""The same checkout with PAYMENT_PROVIDER=stripe: the real SDK talks to a local fake Stripe."""

from app.checkout.tasks import release_expired_checkouts
from app.db import commit_unit_of_work, utcnow
from app.orders.models import OrderStatus
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.fakes.stripe_server import make_event, signed_event


def start_checkout(client, price=2500, quantity=2):
    variant = factories.product("Linen Shirt", price=price, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, quantity)
    submit_details(client)
    return variant


def test_session_is_created_from_server_prices_with_an_idempotency_key(client, db, fake_stripe):
    start_checkout(client)
    response = pay(client, total="1", unit_amount="1")
    assert response.status_code == 303
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    order = latest_order()
    assert request.idempotency_key == f"checkout-{order.number}-1"
    assert request.authorization == "Bearer sk_test_shop"
    params = request.params
    assert params["mode"] == "payment" and params["currency"] == "eur"
    assert params["client_reference_id"] == order.number
    assert params["metadata"]["order_number"] == order.number
    items = params["line_items"]
    assert items[0]["price_data"]["unit_amount"] == "2500" and items[0]["quantity"] == "2"
    assert items[0]["price_data"]["product_data"]["name"] == "Linen Shirt"
    assert "{CHECKOUT_SESSION_ID}" in params["success_url"]
    assert int(params["expires_at"]) > utcnow().timestamp() + 29 * 60
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    assert session_id.startswith("cs_test_")


def test_paid_session_fulfils_through_the_webhook(client, db, fake_stripe):
    start_checkout(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.complete(session_id, paid=True)
    event = make_event("checkout.session.completed", {"id": session_id})
    payload, header = signed_event(event, "whsec_test_shop")
    assert (
        client.post(
            "/webhooks/stripe", data=payload, headers={"Stripe-Signature": header}
        ).status_code
        == 200
    )
    assert latest_order().status == OrderStatus.PAID
    page = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
    assert "Thank you for your order!" in page


def test_stripe_down_keeps_cart_and_order_with_a_clear_message(client, db, fake_stripe):
    start_checkout(client)
    fake_stripe.fail_next(20, status=500)
    response = pay(client)
    assert response.headers["Location"] == "/checkout/review"
    page = client.get("/checkout/review").get_data(as_text=True)
    assert "Payments are unavailable right now" in page
    assert latest_order().status == OrderStatus.PENDING_PAYMENT  # kept, reservation held
    assert "Linen Shirt" in client.get("/cart").get_data(as_text=True)


def test_pay_again_with_the_same_cart_gets_the_same_session(client, db, fake_stripe):
    start_checkout(client)
    first = pay(client).headers["Location"]
    again = pay(client).headers["Location"]
    assert again == first
    assert len(fake_stripe.requests_to("POST", "/v1/checkout/sessions")) == 1
    assert len(fake_stripe.open_sessions()) == 1


def test_a_changed_cart_replaces_the_old_order_and_expires_its_session(client, db, fake_stripe):
    variant = start_checkout(client)
    pay(client)
    first = latest_order()
    add_to_cart(client, variant.id, 1)
    pay(client)
    second = latest_order()
    assert second.id != first.id
    from app.catalog.models import Variant
    from app.extensions import db as _db

    _db.session.expire_all()
    assert _db.session.get(type(first), first.id).status == OrderStatus.CANCELLED
    assert _db.session.get(Variant, variant.id).reserved == 3  # only the new order holds stock
    [still_open] = fake_stripe.open_sessions()
    assert still_open["client_reference_id"] == second.number


def test_abandoned_checkouts_are_released_by_the_sweeper(client, db, fake_stripe):
    variant = start_checkout(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    order = latest_order()
    order.reservation_expires_at = utcnow().replace(year=2020)
    commit_unit_of_work()
    assert release_expired_checkouts() == 1
    commit_unit_of_work()
    order = latest_order()
    assert order.status == OrderStatus.CANCELLED
    from app.catalog.models import Variant
    from app.extensions import db as _db

    assert _db.session.get(Variant, variant.id).reserved == 0
    expire = fake_stripe.requests_to("POST", f"/v1/checkout/sessions/{session_id}/expire")
    assert len(expire) == 1

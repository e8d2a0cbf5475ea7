"""Abandoned carts: one reminder per cart to shoppers who agreed to marketing e-mail — a
signed-in shopper's idle cart through the shop's own e-mail and link, a guest who agreed at
Stripe Checkout through the expired session's recovery link — and never twice."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.cart.models import Cart, CartLine, CartMerge
from app.cart.tasks import purge_expired_carts, recover_guest, remind_idle
from app.db import commit_unit_of_work, utcnow
from app.extensions import db
from app.notifications.models import Notification, Status
from app.notifications.rendering import render
from app.notifications.services import set_preference, unsubscribe
from app.orders.models import CancelReason, Order, OrderStatus
from app.payments.models import PaymentStatus
from tests.accounts.helpers import login, make_user
from tests.catalog import factories
from tests.checkout.helpers import (
    add_to_cart,
    latest_order,
    path_of,
    pay,
    submit_details,
    token,
)
from tests.fakes.stripe_server import make_event, signed_event


def reminders():
    db.session.expire_all()
    return list(
        db.session.execute(
            sa.select(Notification).where(Notification.template == "cart-recovery")
        ).scalars()
    )


def shopper_cart(client, *, agrees=True, email="grace@example.com", idle_hours=7):
    user = make_user(email)
    if agrees:
        set_preference(user.id, "email", "marketing", True)
    variant = factories.product("Merino Jumper", price=8900, stock=5).variants[0]
    commit_unit_of_work()
    login(client, email)
    add_to_cart(client, variant.id, 1)
    idle(idle_hours)
    return user


def idle(hours):
    db.session.execute(sa.update(Cart).values(updated_at=utcnow() - timedelta(hours=hours)))
    commit_unit_of_work()


def test_an_idle_cart_gets_one_reminder_whose_link_brings_the_cart_back(app, client, db):
    user = shopper_cart(client)
    assert remind_idle() == 1
    assert remind_idle() == 0  # never twice for the same cart
    [mail] = reminders()
    assert (mail.to_address, mail.status, mail.category) == (user.email, Status.SENT, "marketing")
    assert mail.variables["lines"][0]["name"] == "Merino Jumper"
    message = render(mail)
    assert "List-Unsubscribe" in message.headers
    link = path_of(mail.variables["cart_url"])
    fresh_browser = app.test_client()  # the e-mail opened elsewhere: sign in first
    response = fresh_browser.get(link)
    assert response.headers["Location"].startswith("/account/login?next=")
    assert client.get(link).headers["Location"] == "/cart"  # signed in: straight to it
    assert "Merino Jumper" in client.get("/cart").get_data(as_text=True)
    assert app.test_client().get("/cart/restore/tampered").headers["Location"] == "/cart"


def test_only_for_shoppers_who_agreed(client, db):
    shopper_cart(client, agrees=False)
    assert remind_idle() == 0 and reminders() == []
    user = db.session.execute(sa.select(Cart)).scalar_one()
    set_preference(user.user_id, "email", "marketing", True)  # agreeing later
    commit_unit_of_work()
    assert remind_idle() == 0  # does not reach back to a cart already passed over


def test_an_unsubscribed_address_gets_nothing(client, db):
    user = shopper_cart(client)
    unsubscribe(user.email, "marketing")
    commit_unit_of_work()
    remind_idle()
    assert [m.status for m in reminders()] == []


def test_not_too_soon_not_too_late_and_not_while_paying(client, db):
    shopper_cart(client, idle_hours=2)
    assert remind_idle() == 0  # not idle long enough
    idle(24 * 10)
    assert remind_idle() == 0  # too long ago to be worth a reminder
    idle(7)
    submit_details(client, email="grace@example.com")
    pay(client)  # a payment is under way
    idle(7)
    assert remind_idle() == 0


def test_a_guest_who_agreed_at_stripe_gets_its_recovery_link_once(app, client, db, fake_stripe):
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    sent = fake_stripe.requests_to("POST", "/v1/checkout/sessions")[0].params
    assert sent["after_expiration"] == {"recovery": {"enabled": "true"}}
    assert sent["consent_collection"] == {"promotions": "auto"}
    fake_stripe.expire(session_id, promotions="opt_in")
    event = make_event("checkout.session.expired", {"id": session_id})
    for _ in range(2):  # Stripe may deliver the event twice
        payload, header = signed_event(event, "whsec_test_shop")
        assert (
            client.post(
                "/webhooks/stripe", data=payload, headers={"Stripe-Signature": header}
            ).status_code
            == 200
        )
    [mail] = reminders()
    assert mail.to_address == "ada@example.com" and mail.status == Status.SENT
    assert mail.variables["cart_url"] == f"{fake_stripe.url}/recover/{session_id}"
    assert latest_order().status == OrderStatus.CANCELLED
    # The guest comes back through the link and pays: the order it was for is paid.
    recovered = fake_stripe.recover(session_id)
    fake_stripe.complete(recovered["id"])
    done = make_event("checkout.session.completed", {"id": recovered["id"]})
    payload, header = signed_event(done, "whsec_test_shop")
    client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header})
    assert latest_order().status == OrderStatus.PAID


def test_no_recovery_mail_once_the_order_is_no_longer_an_expired_checkout(client, db, fake_stripe):
    """The recovery e-mail leaves after the expiry's commit (app.cart.tasks.recover_guest):
    by then the order may be paying again, or a payment for it may have come (the recovery
    link paid, or refunded because the stock was gone). None of them gets the e-mail."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    order = latest_order()
    url = f"{fake_stripe.url}/recover/{session_id}"
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert recover_guest.call_local(order.id, url) is False
    assert recover_guest.call_local(order.id + 1000, url) is False  # no such order
    fake_stripe.expire(session_id, promotions="opt_out")  # expired, and no e-mail for it
    deliver(client, make_event("checkout.session.expired", {"id": session_id}))
    assert latest_order().status == OrderStatus.CANCELLED and reminders() == []
    [payment] = latest_order().payments
    payment.status, payment.fulfilled_at = PaymentStatus.SUCCEEDED, utcnow()  # came late
    commit_unit_of_work()
    assert recover_guest.call_local(order.id, url) is False
    payment.status, payment.fulfilled_at = PaymentStatus.EXPIRED, None
    order = latest_order()
    order.needs_attention = "Paid EUR 20.00, but the order total is EUR 25.00."
    commit_unit_of_work()
    assert recover_guest.call_local(order.id, url) is False  # staff are looking into it
    order.needs_attention = ""
    commit_unit_of_work()
    pay_again(client)  # paying again
    assert recover_guest.call_local(order.id, url) is False
    assert reminders() == []


def test_a_guest_who_did_not_agree_hears_nothing(client, db, fake_stripe):
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.expire(session_id, promotions="opt_out")
    payload, header = signed_event(
        make_event("checkout.session.expired", {"id": session_id}), "whsec_test_shop"
    )
    client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header})
    assert reminders() == []


def expire_with_recovery(client, fake_stripe, session_id):
    fake_stripe.expire(session_id, promotions="opt_in")
    deliver(client, make_event("checkout.session.expired", {"id": session_id}))


def deliver(client, event):
    payload, header = signed_event(event, "whsec_test_shop")
    response = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header})
    assert response.status_code == 200


def expired_with_recovery_link(client, fake_stripe, variant_id):
    """A guest presses Pay for one of ``variant_id`` and lets the checkout expire, agreeing at
    Stripe to hear from the shop: the order and its session, which has a recovery link."""
    add_to_cart(client, variant_id, 1)
    submit_details(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    expire_with_recovery(client, fake_stripe, session_id)
    return latest_order(), session_id


def pay_again(client):
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    return latest_order(), session_id


def pay_through_recovery_link(client, fake_stripe, session_id):
    recovered = fake_stripe.recover(session_id)
    fake_stripe.complete(recovered["id"])
    deliver(client, make_event("checkout.session.completed", {"id": recovered["id"]}))


def orders_by_number():
    db.session.expire_all()
    return {o.number: o for o in db.session.execute(sa.select(Order)).scalars()}


def test_paying_the_recovery_link_closes_the_newer_checkout_of_the_same_cart(
    app, client, db, fake_stripe
):
    """A guest's checkout expired; they came back and pressed Pay again, then paid through the
    recovery link after all. The newer checkout must not stay payable: paying it too would
    charge them twice for the same shirt."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    second, second_session = pay_again(client)
    assert second.number != first.number and second.status == OrderStatus.PENDING_PAYMENT

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[second.number].status == OrderStatus.CANCELLED
    assert orders[second.number].cancel_reason == CancelReason.REPLACED
    assert fake_stripe.sessions[second_session]["status"] == "expired"
    with pytest.raises(ValueError, match="expired session cannot be paid"):
        fake_stripe.complete(second_session)
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    assert orders[first.number].needs_attention == ""
    # The second order's reservation was given back: only the shirt paid for is gone.
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (4, 0)


@pytest.mark.parametrize("since", ["kept", "refunded"])
def test_a_recovery_payment_after_the_same_items_were_paid_is_left_to_staff(
    app, client, db, fake_stripe, monkeypatch, since
):
    """Bought again in the shop, then paid through the old recovery link too: both orders are
    real payments and buying twice may be meant, so staff are told, nothing is refunded. A
    newer order refunded since is no second purchase: nobody is told."""
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    second, second_session = pay_again(client)
    fake_stripe.complete(second_session)
    deliver(client, make_event("checkout.session.completed", {"id": second_session}))
    if since == "refunded":
        db.session.execute(
            sa.update(Order).where(Order.id == second.id).values(status=OrderStatus.REFUNDED)
        )
        commit_unit_of_work()

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    alerts = list(
        db.session.execute(
            sa.select(Notification).where(Notification.template == "payment-anomaly")
        ).scalars()
    )
    assert orders[first.number].refunds == []
    if since == "refunded":
        assert alerts == []
        return
    [alert] = alerts
    assert orders[second.number].status == OrderStatus.PAID
    assert alert.to_address == "ops@example.com"
    assert alert.variables["order_number"] == first.number
    assert second.number in alert.variables["problem"]
    assert "buy these twice" in alert.variables["action"]
    assert orders[second.number].refunds == []


def test_a_newer_checkout_for_other_things_stays_payable(app, client, db, fake_stripe):
    """After the first checkout expired the guest swapped the shirt for a scarf and pressed
    Pay: paying the shirt through the recovery link leaves the scarf's checkout alone."""
    shirt = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    scarf = factories.product("Silk Scarf", price=3900, stock=5).variants[0]
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, shirt.id)
    [line] = db.session.execute(sa.select(CartLine)).scalars()
    client.post(f"/cart/lines/{line.id}/remove", data={"csrf_token": token(client, "/cart")})
    add_to_cart(client, scarf.id, 1)
    second, second_session = pay_again(client)
    assert [ln.variant_id for ln in second.lines] == [scarf.id]

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[second.number].status == OrderStatus.PENDING_PAYMENT
    assert fake_stripe.sessions[second_session]["status"] == "open"


def test_a_guest_who_signed_in_since_cannot_pay_twice_through_the_recovery_link(
    app, client, db, fake_stripe
):
    """The guest's checkout expired; they signed in (the guest cart became the account's),
    pressed Pay there, then paid through the recovery link after all. The account's newer
    checkout must not stay payable, and the shirt paid for leaves the account's cart. The
    revived order stays a guest order: signing in on a shared computer must not hand the
    next person someone's expired checkout."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    make_user("grace@example.com")
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    login(client, "grace@example.com")
    submit_details(client, email="grace@example.com")
    second, second_session = pay_again(client)
    assert second.user_id is not None and second.number != first.number

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[first.number].user_id is None
    assert orders[second.number].status == OrderStatus.CANCELLED
    assert orders[second.number].cancel_reason == CancelReason.REPLACED
    assert fake_stripe.sessions[second_session]["status"] == "expired"
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    assert first.number not in client.get("/account/orders").get_data(as_text=True)
    # The account's order page says why, without naming the guest order.
    page = client.get(f"/account/orders/{second.number}").get_data(as_text=True)
    assert "was paid through its expired checkout" in page and first.number not in page
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (4, 0)


def test_a_checkout_pressed_as_a_guest_and_carried_into_the_account_is_closed_too(
    app, client, db, fake_stripe
):
    """Expired, Pay pressed again as a guest, then signed in (that unpaid order became the
    account's, as the sign-in merge does), then the recovery link paid: the carried-over
    checkout is the same shopper's and must not stay payable."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    make_user("grace@example.com")
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    second, second_session = pay_again(client)
    login(client, "grace@example.com")
    assert orders_by_number()[second.number].user_id is not None

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[second.number].status == OrderStatus.CANCELLED
    assert fake_stripe.sessions[second_session]["status"] == "expired"
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (4, 0)


def test_the_newer_checkout_holding_the_last_shirt_gives_way_to_the_recovery_payment(
    app, client, db, fake_stripe
):
    """One shirt left: the guest's checkout expired, they pressed Pay again (that checkout now
    holds the shirt), then paid through the recovery link after all. The payment keeps the
    shirt — the newer checkout, which would be closed anyway, gives it up — instead of being
    refunded as sold out while the newer checkout stays payable."""
    variant = factories.product("Linen Shirt", price=2500, stock=1).variants[0]
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    second, second_session = pay_again(client)
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (1, 1)

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[first.number].refunds == [] and orders[first.number].needs_attention == ""
    assert orders[second.number].status == OrderStatus.CANCELLED
    assert orders[second.number].cancel_reason == CancelReason.REPLACED
    assert fake_stripe.sessions[second_session]["status"] == "expired"
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (0, 0)


def test_when_the_stock_went_elsewhere_the_newer_checkout_stays_payable(
    app, client, db, fake_stripe
):
    """Two shirts left. The guest's checkout for both expired; they pressed Pay again for one
    (it holds one) and another shopper bought the other. Paid through the recovery link, the
    first order cannot have two shirts even without the newer checkout: that payment is
    given back, and the newer checkout is left as it was, still payable."""
    variant = factories.product("Linen Shirt", price=2500, stock=2).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 2)
    submit_details(client)
    first_session = pay(client).headers["Location"].rsplit("/", 1)[1]
    first = latest_order()
    expire_with_recovery(client, fake_stripe, first_session)
    [line] = db.session.execute(sa.select(CartLine)).scalars()
    client.post(
        f"/cart/lines/{line.id}/quantity",
        data={"quantity": "1", "csrf_token": token(client, "/cart")},
    )
    second, second_session = pay_again(client)
    assert [(ln.variant_id, ln.quantity) for ln in second.lines] == [(variant.id, 1)]
    other = app.test_client()
    add_to_cart(other, variant.id, 1)
    submit_details(other, email="grace@example.com")
    other_session = pay(other).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.complete(other_session)
    deliver(other, make_event("checkout.session.completed", {"id": other_session}))

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.REFUNDED
    assert "stock ran out" in orders[first.number].needs_attention
    assert len(orders[first.number].refunds) == 1
    assert orders[second.number].status == OrderStatus.PENDING_PAYMENT
    assert fake_stripe.sessions[second_session]["status"] == "open"
    assert orders[second.number].events[-1].to_status == OrderStatus.PENDING_PAYMENT
    replaced = sa.select(AuditEvent).where(AuditEvent.action == "order.replaced")
    assert db.session.execute(replaced).first() is None  # undone with the rest
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (1, 1)


def test_what_the_account_did_before_the_guest_signed_in_is_left_alone(
    app, client, db, fake_stripe
):
    """A shared computer: a guest's checkout expired, then Grace signed in on that browser
    (the guest's cart merged into hers). Her own checkout, pressed on her phone before that,
    is hers, not the guest's: the guest paying the recovery link must not close it."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    make_user("grace@example.com")
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    phone = app.test_client()  # after the guest's order, before the sign-in on that browser
    login(phone, "grace@example.com")
    add_to_cart(phone, variant.id, 1)
    submit_details(phone, email="grace@example.com")
    hers, her_session = pay_again(phone)
    assert hers.id > first.id
    login(client, "grace@example.com")

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[hers.number].status == OrderStatus.PENDING_PAYMENT
    assert fake_stripe.sessions[her_session]["status"] == "open"


def test_a_carried_checkout_is_closed_even_after_the_accounts_cart_was_renewed(
    app, client, db, fake_stripe
):
    """The account's cart the guest cart went into expired and was purged before the recovery
    link was paid (the link lives for 30 days): the checkout the sign-in carried into the
    account is still the guest's own and is closed."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    grace = make_user("grace@example.com")
    commit_unit_of_work()
    first, first_session = expired_with_recovery_link(client, fake_stripe, variant.id)
    second, second_session = pay_again(client)
    login(client, "grace@example.com")
    db.session.execute(sa.delete(Cart).where(Cart.user_id == grace.id))
    commit_unit_of_work()

    pay_through_recovery_link(client, fake_stripe, first_session)

    orders = orders_by_number()
    assert orders[first.number].status == OrderStatus.PAID
    assert orders[second.number].status == OrderStatus.CANCELLED
    assert fake_stripe.sessions[second_session]["status"] == "expired"


def test_merges_are_forgotten_once_no_recovery_link_can_reach_them(app, client, db, fake_stripe):
    """A merge is kept while the guest's recovery link may still be paid (Stripe: 30 days
    after the checkout expired, which was before the merge); the hourly clean-up forgets it
    after that."""
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    make_user("grace@example.com")
    commit_unit_of_work()
    expired_with_recovery_link(client, fake_stripe, variant.id)
    login(client, "grace@example.com")
    [merge] = db.session.execute(sa.select(CartMerge)).scalars()
    merge.merged_at = utcnow() - timedelta(days=30)
    commit_unit_of_work()
    purge_expired_carts.call_local()
    assert db.session.execute(sa.select(sa.func.count()).select_from(CartMerge)).scalar() == 1
    merge = db.session.execute(sa.select(CartMerge)).scalar_one()
    merge.merged_at = utcnow() - timedelta(days=32)
    commit_unit_of_work()
    purge_expired_carts.call_local()
    assert db.session.execute(sa.select(sa.func.count()).select_from(CartMerge)).scalar() == 0

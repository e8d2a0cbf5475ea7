"""Checkout against the rules Stripe documents, as the strict fake enforces them: expiry
window at receipt, idempotency keys bound to their parameters, a pinned API version, and no
payable session left behind for an order that was replaced."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import stripe

from app.checkout.models import CheckoutAttempt
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.orders.models import Order, OrderStatus
from app.payments import stripe_gateway
from app.payments.models import Payment
from tests.api.helpers import TERMS
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.fakes.stripe_server import SHAPES

SESSIONS = "/v1/checkout/sessions"


def start_checkout(client, quantity=2):
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, quantity)
    submit_details(client)
    return variant


def creates(fake):
    return fake.requests_to("POST", SESSIONS)


# -- the fake itself refuses what Stripe refuses (or these tests would prove nothing) -------


@pytest.fixture
def sdk(app, fake_stripe):
    with app.app_context():
        yield stripe_gateway._gateway().client


def _params(expires_at: int) -> dict:
    return {
        "mode": "payment",
        "currency": "eur",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 100,
                    "product_data": {"name": "x"},
                },
            }
        ],
        "success_url": "https://shop.example/s?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/c",
        "expires_at": expires_at,
    }


def test_the_fake_refuses_an_expiry_a_second_short_of_thirty_minutes(sdk, fake_stripe):
    import time

    with pytest.raises(stripe.InvalidRequestError, match="between 30 minutes and 24 hours"):
        sdk.v1.checkout.sessions.create(_params(int(time.time() + 1799)))
    with pytest.raises(stripe.InvalidRequestError, match="between 30 minutes and 24 hours"):
        sdk.v1.checkout.sessions.create(_params(int(time.time() + 24 * 3600 + 60)))
    assert fake_stripe.sessions == {}


def test_the_fake_binds_an_idempotency_key_to_its_parameters(sdk, fake_stripe):
    import time

    expires = int(time.time() + 3600)
    first = sdk.v1.checkout.sessions.create(_params(expires), {"idempotency_key": "k-1"})
    again = sdk.v1.checkout.sessions.create(_params(expires), {"idempotency_key": "k-1"})
    assert again.id == first.id  # replayed
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        sdk.v1.checkout.sessions.create(_params(expires + 1), {"idempotency_key": "k-1"})
    assert len(fake_stripe.sessions) == 1


def test_the_fake_refuses_a_total_below_the_card_minimum(sdk, fake_stripe):
    import time

    params = _params(int(time.time() + 3600))
    params["line_items"][0]["price_data"]["unit_amount"] = 49  # €0.50 is Stripe's minimum
    with pytest.raises(stripe.InvalidRequestError, match="at least 50"):
        sdk.v1.checkout.sessions.create(params)
    params["line_items"][0]["price_data"]["unit_amount"] = 50
    assert sdk.v1.checkout.sessions.create(params).amount_total == 50


# -- what the shop sends -------------------------------------------------------------------


def test_a_session_lives_thirty_minutes_plus_a_margin_and_the_stock_is_held_longer(
    client, db, fake_stripe, app
):
    start_checkout(client)
    assert pay(client).status_code == 303
    [request] = creates(fake_stripe)
    [session] = fake_stripe.sessions.values()
    lifetime = int(request.params["expires_at"]) - session["created"]
    assert lifetime >= app.config["RESERVATION_MINUTES"] * 60 + 4 * 60  # margin on top
    assert lifetime <= 24 * 3600
    order = latest_order()
    assert order.reservation_expires_at.timestamp() >= int(request.params["expires_at"])


def test_stripes_clock_a_few_minutes_ahead_is_covered_by_the_margin(client, db, fake_stripe):
    fake_stripe.clock_skew = 4 * 60
    start_checkout(client)
    assert pay(client).headers["Location"].startswith(fake_stripe.url + "/pay/")


def test_every_request_names_the_pinned_api_version(client, db, fake_stripe, app):
    start_checkout(client)
    pay(client)
    pay(client)  # a retrieve of the reused session too
    assert {r.headers["Stripe-Version"] for r in fake_stripe.requests} == {
        app.config["STRIPE_API_VERSION"]
    }
    # Pinned to the version the SDK in use was generated for: bump both together.
    assert app.config["STRIPE_API_VERSION"] == stripe.api_version


def test_after_an_outage_the_retry_sends_the_same_request_with_the_same_key(
    client, db, fake_stripe
):
    start_checkout(client)
    fake_stripe.fail_next(3, status=503)  # the first press and the SDK's two retries
    refused = pay(client)
    assert refused.headers["Location"] == "/checkout/review"
    assert "Payments are unavailable right now" in client.get("/checkout/review").get_data(
        as_text=True
    )
    retry = pay(client)
    assert retry.headers["Location"].startswith(fake_stripe.url)
    sent = creates(fake_stripe)
    assert len(sent) == 4
    assert {r.idempotency_key for r in sent} == {f"checkout-{latest_order().number}-1"}
    assert len({json.dumps(r.params, sort_keys=True) for r in sent}) == 1  # same parameters
    assert len(fake_stripe.sessions) == 1


def test_a_request_too_old_to_resend_is_settled_and_a_new_one_made(
    client, db, fake_stripe, monkeypatch
):
    """The answer to the first request was lost (the worker died, say) and the shopper comes
    back after the replay window: the old request is found out by sending it once more with
    its own key and parameters, its session expired, and a new attempt pays."""
    start_checkout(client)
    _lost_answer(client, monkeypatch)
    attempt = _db.session.execute(sa.select(CheckoutAttempt)).scalar_one()
    attempt.created_at -= timedelta(minutes=5)
    commit_unit_of_work()

    retry = pay(client).headers["Location"]
    first, second = (s for s in fake_stripe.sessions.values())
    assert retry == second["url"]
    assert (first["status"], second["status"]) == ("expired", "open")
    keys = {r.idempotency_key for r in creates(fake_stripe)}
    assert keys == {f"checkout-{latest_order().number}-{n}" for n in (1, 2)}
    assert all(int(r.params["metadata"]["attempt"]) in (1, 2) for r in creates(fake_stripe))
    order = latest_order()
    assert sorted((p.attempt, p.status) for p in order.payments) == [
        (1, "expired"),
        (2, "pending"),
    ]
    assert len(fake_stripe.open_sessions()) == 1


def test_a_double_press_gets_the_same_session_back(client, db, fake_stripe):
    start_checkout(client)
    first = pay(client).headers["Location"]
    second = pay(client).headers["Location"]
    assert first == second
    assert len(creates(fake_stripe)) == 1 and len(fake_stripe.open_sessions()) == 1
    assert _db.session.execute(sa.select(sa.func.count()).select_from(Order)).scalar() == 1


def test_a_session_about_to_close_is_not_handed_out_again(client, db, fake_stripe):
    start_checkout(client)
    first = pay(client).headers["Location"]
    payment = _db.session.execute(sa.select(Payment)).scalar_one()
    payment.expires_at = payment.expires_at - timedelta(minutes=30)  # 5 minutes left
    commit_unit_of_work()
    second = pay(client).headers["Location"]
    assert second != first
    order = latest_order()
    assert [p.status for p in order.payments] == ["expired", "pending"]  # same order
    assert [s["status"] for s in fake_stripe.sessions.values()] == ["expired", "open"]


def test_the_sweeper_asks_stripe_and_fulfils_a_payment_whose_webhook_is_late(
    client, db, fake_stripe
):
    from app.catalog.models import Variant
    from app.checkout.tasks import release_expired_checkouts

    variant = start_checkout(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.complete(session_id, paid=True)  # paid in time; the event is delayed
    order = latest_order()
    order.reservation_expires_at = order.reservation_expires_at.replace(year=2020)
    commit_unit_of_work()
    assert release_expired_checkouts() == 0  # nothing cancelled
    order = latest_order()
    assert order.status == OrderStatus.PAID
    _db.session.expire_all()
    variant = _db.session.get(Variant, variant.id)
    assert (variant.stock_on_hand, variant.reserved) == (3, 0)
    assert order.refunds == []


def test_the_sweeper_waits_for_a_payment_still_clearing(client, db, fake_stripe):
    from app.checkout.tasks import release_expired_checkouts

    start_checkout(client)
    session_id = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.complete(session_id, paid=False)  # a bank debit: complete, not yet paid
    order = latest_order()
    order.reservation_expires_at = order.reservation_expires_at.replace(year=2020)
    commit_unit_of_work()
    assert release_expired_checkouts() == 0
    order = latest_order()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.reservation_expires_at.year > 2020  # looked at again later


# -- what the sandbox sends ------------------------------------------------------------------


def test_sandbox_events_carry_every_field_stripes_do(client, db):
    from app.payments.models import WebhookEvent
    from tests.checkout.helpers import sandbox_action

    start_checkout(client)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    event = _db.session.execute(sa.select(WebhookEvent)).scalar_one().payload
    assert sorted(event) == SHAPES["event"]
    assert sorted(event["data"]["object"]) == SHAPES["checkout.session"]
    assert sorted(event["request"]) == SHAPES["event.request"]
    assert event["api_version"] == stripe.api_version


def test_the_shapes_are_stripes_own_fixtures():
    """The field lists come from stripe/openapi (see the file's _source), not from us."""
    shapes = json.loads((Path(__file__).parents[1] / "fakes" / "stripe_shapes.json").read_text())
    assert "stripe/openapi" in shapes["_source"]
    assert {"id", "object", "expires_at", "payment_status", "url"} <= set(
        shapes["checkout.session"]
    )


def test_the_sandbox_keeps_stripes_rules_too(db):
    import time

    from app.payments import sandbox

    args = {
        "line_items": [{"name": "x", "unit_amount": 100, "quantity": 1}],
        "currency": "eur",
        "customer_email": "a@example.com",
        "client_reference_id": "SS-1",
        "metadata": {},
        "success_url": "s",
        "cancel_url": "c",
    }
    with pytest.raises(stripe_gateway.PaymentRejected) as short:
        sandbox.create_checkout_session(
            **args, expires_at=int(time.time()) + 1799, idempotency_key="a"
        )
    assert short.value.param == "expires_at"
    expires = int(time.time()) + 3600
    first = sandbox.create_checkout_session(**args, expires_at=expires, idempotency_key="b")
    again = sandbox.create_checkout_session(**args, expires_at=expires, idempotency_key="b")
    assert again.id == first.id
    with pytest.raises(stripe_gateway.PaymentRejected) as other:
        sandbox.create_checkout_session(**args, expires_at=expires + 1, idempotency_key="b")
    assert other.value.code == "idempotency_error"


def _lost_answer(client, monkeypatch):
    """Pay is pressed, Stripe makes the session, and the answer never reaches the shop."""
    from app.checkout import services

    real_send = services.send
    made = []

    def lost(snapshot):
        made.append(real_send(snapshot))
        raise stripe_gateway.PaymentsUnavailable(outage=True)

    monkeypatch.setattr(services, "send", lost)
    assert pay(client).headers["Location"] == "/checkout/review"
    monkeypatch.setattr(services, "send", real_send)
    return made[0]


def test_a_paid_session_whose_create_answer_was_lost_is_still_found_by_its_webhook(
    client, db, fake_stripe, monkeypatch
):
    from tests.fakes.stripe_server import make_event, signed_event

    start_checkout(client)
    session = _lost_answer(client, monkeypatch)
    assert _db.session.execute(sa.select(Payment)).scalars().all() == []
    fake_stripe.complete(session.id, paid=True)
    event = make_event("checkout.session.completed", {"id": session.id})
    payload, header = signed_event(event, "whsec_test_shop")
    response = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header})
    assert response.status_code == 200
    order = latest_order()
    assert order.status == OrderStatus.PAID
    [payment] = order.payments
    assert (payment.session_id, payment.attempt, payment.status) == (session.id, 1, "succeeded")


def test_the_success_page_finds_a_session_whose_create_answer_was_lost(
    client, db, fake_stripe, monkeypatch
):
    start_checkout(client)
    session = _lost_answer(client, monkeypatch)
    fake_stripe.complete(session.id, paid=True)
    page = client.get(f"/checkout/success?session_id={session.id}")
    assert page.status_code == 200
    assert "Thank you for your order!" in page.get_data(as_text=True)
    assert latest_order().status == OrderStatus.PAID
    assert client.get("/checkout/success?session_id=cs_test_unknown").status_code == 404


def test_hostile_session_ids_on_the_success_page_are_404s_without_asking_stripe(
    client, db, fake_stripe
):
    for junk in ("", "x" * 300, "cs_\x00abc", "cs_é" * 5, "cs_test_../../v1/refunds", "9" * 25):
        response = client.get("/checkout/success", query_string={"session_id": junk})
        assert response.status_code == (400 if "\x00" in junk else 404), junk
    assert fake_stripe.requests == []


@pytest.mark.parametrize("door", ["web guest", "web signed in", "api guest", "api signed in"])
def test_each_door_makes_one_session_per_attempt_that_stripe_accepts(
    app, client, db, fake_stripe, door
):
    from tests.accounts.helpers import login, make_user
    from tests.api.helpers import add_item, bearer, guest, set_details, tokens

    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    make_user()
    commit_unit_of_work()
    if door.startswith("web"):
        if door.endswith("signed in"):
            login(client)
        add_to_cart(client, variant.id, 2)
        submit_details(client)
        url = pay(client).headers["Location"]
        again = pay(client).headers["Location"]
    else:
        if door.endswith("signed in"):
            headers = bearer(tokens(client)["access_token"])
            add_item(client, variant.id, 2, headers)
        else:
            headers = guest(add_item(client, variant.id, 2).get_json()["cart_token"])
        assert set_details(client, headers, email="ada@example.com").status_code == 200
        url = client.post("/api/v1/checkout/session", json=TERMS, headers=headers).get_json()[
            "checkout_url"
        ]
        again = client.post("/api/v1/checkout/session", json=TERMS, headers=headers).get_json()[
            "checkout_url"
        ]
    assert url == again and url.startswith(fake_stripe.url + "/pay/")
    [create] = creates(fake_stripe)  # the retry got the live session back, not a new one
    assert create.params["line_items"][0]["price_data"]["unit_amount"] == "2500"
    assert [s["status"] for s in fake_stripe.sessions.values()] == ["open"]
    order = latest_order()
    assert (order.user_id is not None) == door.endswith("signed in")
    assert create.params["client_reference_id"] == order.number


def test_the_sweeper_leaves_an_order_alone_whose_shopper_pays_again_meanwhile(
    client, db, fake_stripe, monkeypatch
):
    """The hold ran out and the sweeper asks Stripe about the old session; meanwhile the
    shopper presses Pay and gets a new session for the same order. That order must not be
    cancelled under them, nor their new session expired."""
    from app.checkout.tasks import release_expired_checkouts
    from app.payments import provider

    start_checkout(client, quantity=1)
    first = pay(client).headers["Location"].rsplit("/", 1)[1]
    fake_stripe.sessions[first]["status"] = "expired"  # Stripe closed it; the event is late
    order = latest_order()
    order.reservation_expires_at = order.reservation_expires_at.replace(year=2020)
    order.payments[0].expires_at = order.payments[0].expires_at.replace(year=2020)
    commit_unit_of_work()
    real = provider.retrieve_checkout_session
    pressed: dict[str, str] = {}

    def retrieve(session_id):
        if not pressed:
            pressed["url"] = pay(client).headers["Location"]
        return real(session_id)

    monkeypatch.setattr(provider, "retrieve_checkout_session", retrieve)
    assert release_expired_checkouts() == 0
    order = latest_order()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert sorted((p.attempt, p.status) for p in order.payments) == [(1, "expired"), (2, "pending")]
    [still_open] = fake_stripe.open_sessions(order.number)
    assert pressed["url"] == still_open["url"]


def test_one_order_that_cannot_be_settled_does_not_stop_the_sweeper(
    app, db, fake_stripe, monkeypatch, caplog
):
    from app.checkout import tasks

    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        start_checkout(client, quantity=1)
        pay(client)
    orders = _db.session.execute(sa.select(Order).order_by(Order.id)).scalars().all()
    for order in orders:
        order.reservation_expires_at = order.reservation_expires_at.replace(year=2020)
    commit_unit_of_work()
    real = tasks._release

    def release(order_id: int) -> int:
        if order_id == orders[0].id:
            raise RuntimeError("a row that breaks a constraint")
        return real(order_id)

    monkeypatch.setattr(tasks, "_release", release)
    assert tasks.release_expired_checkouts() == 1  # the other order is settled all the same
    statuses = _db.session.execute(sa.select(Order.status).order_by(Order.id)).scalars().all()
    assert statuses == [OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED]
    assert "could not be settled" in caplog.text


def test_an_error_stripe_saved_for_a_key_is_not_sent_again_a_new_attempt_pays(
    client, db, fake_stripe
):
    """Stripe made the session but answered 500, and keeps that answer for the key: sending
    the same request again would fail for a day, so the press makes a new attempt at once."""
    start_checkout(client)
    fake_stripe.fail_after_executing_next()
    url = pay(client).headers["Location"]
    assert url.startswith(fake_stripe.url + "/pay/")
    order = latest_order()
    keys = [r.idempotency_key for r in creates(fake_stripe)]
    assert keys[-1] == f"checkout-{order.number}-2" and set(keys[:-1]) == {
        f"checkout-{order.number}-1"
    }
    [payment] = order.payments
    assert (payment.attempt, payment.checkout_url) == (2, url)
    attempts = _db.session.execute(sa.select(CheckoutAttempt)).scalars().all()
    assert all(a.resolved_at is not None for a in attempts)


def test_the_fake_closes_sessions_at_their_expiry_and_refuses_to_pay_them(fake_stripe, sdk):
    import time

    session = sdk.v1.checkout.sessions.create(_params(int(time.time() + 1800 + 5)))
    fake_stripe.clock_skew = 1806  # half an hour later
    assert sdk.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(ValueError, match="expired session cannot be paid"):
        fake_stripe.complete(session.id)

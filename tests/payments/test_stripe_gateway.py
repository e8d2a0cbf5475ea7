"""The Stripe gateway against a stateful fake Stripe on loopback, through the real SDK."""

from __future__ import annotations

import json
import threading
import time

import pytest
import stripe

from app.payments import stripe_gateway as gateway
from app.payments.stripe_gateway import InvalidWebhook
from app.payments.types import (
    UNAVAILABLE_MESSAGE,
    CheckoutSession,
    PaymentRejected,
    PaymentsUnavailable,
    Refund,
)
from tests.fakes.stripe_server import FakeStripe, make_event, signed_event

SUCCESS_URL = "https://shop.test/checkout/return?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://shop.test/cart"
LINES = [
    {"name": "Enamel mug", "unit_amount": 1250, "quantity": 2},
    {"name": "T-shirt", "unit_amount": 1999, "quantity": 1},
]


@pytest.fixture
def fake():
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_app(app, fake, monkeypatch):
    """The app pointed at the fake, with a fresh client and breaker and near-zero SDK backoff."""
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.url)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_test")
    monkeypatch.setitem(app.config, "STRIPE_TIMEOUT_SECONDS", 5)
    # The SDK sleeps 0.5-1 s between retries; the retry count, not the wait, is under test.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
    gateway.reset(app)
    with app.app_context():
        yield app
    gateway.reset(app)


_EXPIRES_AT: list[int] = []


@pytest.fixture(autouse=True)
def _one_expiry_per_test():
    """Every ``create`` of a test asks for the same expiry.

    Stripe refuses a repeated idempotency key whose parameters differ, and a fresh
    ``time.time() + 3600`` per call differs whenever two calls straddle a second.
    """
    _EXPIRES_AT[:] = [int(time.time()) + 3600]
    yield
    _EXPIRES_AT.clear()


def create(key: str = "checkout-42-1", **overrides: object) -> CheckoutSession:
    args: dict[str, object] = {
        "line_items": LINES,
        "currency": "EUR",
        "customer_email": "ann@example.com",
        "client_reference_id": "order-42",
        "metadata": {"order_id": "42", "cart_id": "7"},
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "expires_at": _EXPIRES_AT[0],
        "idempotency_key": key,
    }
    args.update(overrides)
    return gateway.create_checkout_session(**args)  # type: ignore[arg-type]


def test_create_sends_exactly_the_expected_request(stripe_app, fake):
    expires_at = int(time.time()) + 3600

    session = create(expires_at=expires_at)

    [request] = fake.requests_to("POST", "/v1/checkout/sessions")
    assert request.idempotency_key == "checkout-42-1"
    assert request.authorization == "Bearer sk_test_x"
    assert request.params == {
        "mode": "payment",
        "currency": "eur",
        "line_items": [
            {
                "quantity": "2",
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "1250",
                    "product_data": {"name": "Enamel mug"},
                },
            },
            {
                "quantity": "1",
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "1999",
                    "product_data": {"name": "T-shirt"},
                },
            },
        ],
        "client_reference_id": "order-42",
        "customer_email": "ann@example.com",
        "metadata": {"order_id": "42", "cart_id": "7"},
        "payment_intent_data": {"metadata": {"order_id": "42", "cart_id": "7"}},
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "expires_at": str(expires_at),
    }
    assert session == CheckoutSession(
        id=session.id,
        url=f"{fake.url}/pay/{session.id}",
        status="open",
        payment_status="unpaid",
        amount_total=2 * 1250 + 1999,
        currency="eur",
        payment_intent=None,
        client_reference_id="order-42",
        metadata={"order_id": "42", "cart_id": "7"},
        expires_at=expires_at,
    )
    assert session.id.startswith("cs_test_")


def test_customer_email_is_optional(stripe_app, fake):
    create(customer_email=None)

    [request] = fake.requests_to("POST", "/v1/checkout/sessions")
    assert "customer_email" not in request.params


def test_success_url_must_carry_the_session_placeholder(stripe_app, fake):
    with pytest.raises(ValueError, match="CHECKOUT_SESSION_ID"):
        create(success_url="https://shop.test/checkout/return")
    assert fake.requests == []


def test_the_same_idempotency_key_creates_one_session(stripe_app, fake):
    first = create(key="checkout-42-1")
    again = create(key="checkout-42-1")

    assert again == first
    assert len(fake.sessions) == 1
    assert len(fake.requests) == 2


def test_a_reused_key_with_other_parameters_is_rejected(stripe_app, fake):
    create(key="checkout-42-1")

    with pytest.raises(PaymentRejected) as caught:
        create(key="checkout-42-1", client_reference_id="order-43")
    assert len(fake.sessions) == 1
    assert "Keys for idempotent requests" in (caught.value.detail or "")
    assert "Keys" not in str(caught.value)  # the customer sees the generic message


def test_retrieve_shows_a_completed_payment(stripe_app, fake):
    session = create()
    fake.complete(session.id, paid=True)

    current = gateway.retrieve_checkout_session(session.id)

    assert current.status == "complete"
    assert current.payment_status == "paid"
    assert current.amount_total == 4499
    assert current.payment_intent and current.payment_intent.startswith("pi_test_")
    assert current.metadata == {"order_id": "42", "cart_id": "7"}


def test_retrieve_of_an_unknown_session_is_rejected(stripe_app, fake):
    with pytest.raises(PaymentRejected) as caught:
        gateway.retrieve_checkout_session("cs_test_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"


def test_expire_an_open_session(stripe_app, fake):
    session = create()

    expired = gateway.expire_checkout_session(session.id, idempotency_key="expire-42")

    assert expired.status == "expired"
    assert fake.sessions[session.id]["status"] == "expired"
    [request] = fake.requests_to("POST", f"/v1/checkout/sessions/{session.id}/expire")
    assert request.idempotency_key == "expire-42"


def test_expiring_an_expired_or_completed_session_returns_its_state(stripe_app, fake):
    expired = create(key="a")
    gateway.expire_checkout_session(expired.id, idempotency_key="expire-a-1")
    paid = create(key="b", client_reference_id="order-43")
    fake.complete(paid.id)

    again = gateway.expire_checkout_session(expired.id, idempotency_key="expire-a-2")
    late = gateway.expire_checkout_session(paid.id, idempotency_key="expire-b-1")

    assert (again.status, again.payment_status) == ("expired", "unpaid")
    assert (late.status, late.payment_status) == ("complete", "paid")


def test_refunds_within_the_paid_amount(stripe_app, fake):
    session = create()
    intent = fake.complete(session.id)["payment_intent"]

    refund = gateway.create_refund(
        payment_intent=intent, amount=1000, idempotency_key="refund-1", metadata={"order_id": "42"}
    )
    rest = gateway.create_refund(
        payment_intent=intent, amount=3499, idempotency_key="refund-2", metadata={"order_id": "42"}
    )

    assert refund == Refund(
        id=refund.id, status="succeeded", amount=1000, currency="eur", payment_intent=intent
    )
    assert rest.amount == 3499
    first = fake.requests_to("POST", "/v1/refunds")[0]
    assert first.idempotency_key == "refund-1"
    assert first.params == {
        "payment_intent": intent,
        "amount": "1000",
        "metadata": {"order_id": "42"},
    }


def test_over_refunding_is_rejected(stripe_app, fake):
    session = create()
    intent = fake.complete(session.id)["payment_intent"]
    gateway.create_refund(payment_intent=intent, amount=4000, idempotency_key="r1", metadata={})

    with pytest.raises(PaymentRejected) as caught:
        gateway.create_refund(payment_intent=intent, amount=500, idempotency_key="r2", metadata={})

    assert caught.value.code == "amount_too_large"
    assert caught.value.http_status == 400
    assert len(fake.refunds) == 1


def test_a_refund_key_replayed_after_a_lost_answer_refunds_once(stripe_app, fake):
    session = create()
    intent = fake.complete(session.id)["payment_intent"]
    args = {"payment_intent": intent, "amount": 4499, "metadata": {}, "idempotency_key": "r1"}

    first = gateway.create_refund(**args)
    again = gateway.create_refund(**args)

    assert again == first
    assert len(fake.refunds) == 1


def test_server_errors_are_retried_by_the_sdk_with_the_same_key(stripe_app, fake):
    fake.fail_next(2, status=500)

    session = create()

    requests = fake.requests_to("POST", "/v1/checkout/sessions")
    assert len(requests) == 3
    assert {r.idempotency_key for r in requests} == {"checkout-42-1"}
    assert list(fake.sessions) == [session.id]


def test_persistent_server_errors_make_payments_unavailable(stripe_app, fake):
    fake.fail_next(3, status=503)

    with pytest.raises(PaymentsUnavailable) as caught:
        create()

    assert str(caught.value) == UNAVAILABLE_MESSAGE
    assert caught.value.http_status == 503
    assert len(fake.requests) == 3  # first try and max_network_retries=2
    assert fake.sessions == {}


def test_client_errors_are_not_retried_and_do_not_open_the_circuit(stripe_app, fake):
    for _ in range(gateway.BREAKER_FAIL_MAX + 2):
        with pytest.raises(PaymentRejected):
            gateway.retrieve_checkout_session("cs_test_missing")

    assert len(fake.requests) == gateway.BREAKER_FAIL_MAX + 2
    assert create().status == "open"


def test_the_circuit_opens_after_repeated_outages_and_recovers(stripe_app, fake, monkeypatch):
    monkeypatch.setattr(gateway, "BREAKER_RESET_SECONDS", 0.3)
    gateway.reset(stripe_app)
    attempts = 1 + gateway.MAX_NETWORK_RETRIES
    fake.fail_next(gateway.BREAKER_FAIL_MAX * attempts, status=500)

    for _ in range(gateway.BREAKER_FAIL_MAX):
        with pytest.raises(PaymentsUnavailable) as failed:
            gateway.retrieve_checkout_session("cs_test_any")
        assert failed.value.http_status == 500  # the tripping call keeps its own error too
    reached = len(fake.requests)
    with pytest.raises(PaymentsUnavailable) as caught:
        create()

    assert reached == gateway.BREAKER_FAIL_MAX * attempts
    assert len(fake.requests) == reached  # the open circuit did not call Stripe
    assert str(caught.value) == UNAVAILABLE_MESSAGE
    assert caught.value.detail == "circuit open"

    time.sleep(0.35)  # past the reset timeout: one trial call goes through and closes it
    assert create().status == "open"
    assert create(key="checkout-42-2").status == "open"


def test_a_slow_call_does_not_hold_up_other_calls(stripe_app, fake):
    """pybreaker's own call() would serialise every Stripe request behind its lock."""
    session = create()
    fake.delay_next(0.6)
    done = threading.Event()

    def slow() -> None:
        with stripe_app.app_context():
            gateway.retrieve_checkout_session(session.id)
        done.set()

    worker = threading.Thread(target=slow)
    worker.start()
    while len(fake.requests) < 2:
        time.sleep(0.005)
    started = time.monotonic()
    gateway.retrieve_checkout_session(session.id)
    elapsed = time.monotonic() - started
    worker.join()

    assert done.is_set()
    assert elapsed < 0.4


def test_a_timeout_is_retried_with_the_same_key(stripe_app, fake, monkeypatch):
    """The first request times out on our side but goes on at Stripe: retries with its key
    are told it is still in progress (409) until it is done, then get its session back."""
    monkeypatch.setitem(stripe_app.config, "STRIPE_TIMEOUT_SECONDS", 0.3)
    gateway.reset(stripe_app)
    fake.delay_next(1.0)

    session = create()

    requests = fake.requests_to("POST", "/v1/checkout/sessions")
    assert len(requests) >= 3  # the first, refused while it runs, then the replay
    assert {r.idempotency_key for r in requests} == {"checkout-42-1"}
    assert session.status == "open"
    assert list(fake.sessions) == [session.id]  # one session, however many tries


def test_persistent_timeouts_make_payments_unavailable(stripe_app, fake, monkeypatch):
    session = create()
    monkeypatch.setitem(stripe_app.config, "STRIPE_TIMEOUT_SECONDS", 0.3)
    gateway.reset(stripe_app)
    fake.requests.clear()
    fake.delay_next(1.0, n=3)

    started = time.monotonic()
    with pytest.raises(PaymentsUnavailable) as caught:
        gateway.retrieve_checkout_session(session.id)

    assert caught.value.outage
    assert caught.value.http_status is None
    assert len(fake.requests) == 3
    assert time.monotonic() - started < 2


def test_unreachable_stripe_makes_payments_unavailable(stripe_app, fake):
    fake.stop()

    with pytest.raises(PaymentsUnavailable) as caught:
        gateway.retrieve_checkout_session("cs_test_any")
    assert caught.value.outage


def test_a_bad_api_key_is_unavailability_not_a_rejection(stripe_app, fake, monkeypatch):
    monkeypatch.setitem(stripe_app.config, "STRIPE_SECRET_KEY", "nonsense")
    gateway.reset(stripe_app)

    with pytest.raises(PaymentsUnavailable) as caught:
        create()
    assert caught.value.http_status == 401
    assert not caught.value.outage


# -- webhooks --------------------------------------------------------------------------------


def test_a_correctly_signed_event_is_accepted(stripe_app, fake):
    session = create()
    event = make_event("checkout.session.completed", fake.complete(session.id))
    payload, header = signed_event(event, "whsec_test")

    received = gateway.construct_event(payload, header)

    assert received == event
    assert type(received) is dict
    assert received["data"]["object"]["payment_status"] == "paid"


def test_a_recent_but_not_current_timestamp_is_accepted(stripe_app):
    event = make_event("checkout.session.expired", {"id": "cs_test_1"})
    payload, header = signed_event(event, "whsec_test", timestamp=int(time.time()) - 240)

    assert gateway.construct_event(payload, header)["id"] == event["id"]


def test_a_tampered_body_is_rejected(stripe_app):
    event = make_event("checkout.session.completed", {"id": "cs_test_1", "amount_total": 100})
    payload, header = signed_event(event, "whsec_test")

    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload.replace(b"100", b"1"), header)


def test_a_signature_with_another_secret_is_rejected(stripe_app):
    payload, header = signed_event(make_event("charge.refunded", {"id": "ch_1"}), "whsec_other")

    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload, header)


@pytest.mark.parametrize("header", [None, "", "t=abc", "v1=deadbeef"])
def test_a_missing_or_malformed_header_is_rejected(stripe_app, header):
    payload, _ = signed_event(make_event("charge.refunded", {"id": "ch_1"}), "whsec_test")

    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload, header)  # type: ignore[arg-type]


def test_a_stale_event_is_rejected(stripe_app):
    event = make_event("checkout.session.completed", {"id": "cs_test_1"})
    payload, header = signed_event(event, "whsec_test", timestamp=int(time.time()) - 301)

    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload, header)


def test_a_signed_body_that_is_not_an_event_is_rejected(stripe_app):
    for body in ("not json", "[1, 2]"):
        header = stripe.WebhookSignature.generate_signature_header(body, "whsec_test")
        with pytest.raises(InvalidWebhook):
            gateway.construct_event(body.encode(), header)


def test_webhooks_are_refused_without_a_configured_secret(stripe_app, monkeypatch):
    monkeypatch.setitem(stripe_app.config, "STRIPE_WEBHOOK_SECRET", None)
    payload, header = signed_event(make_event("charge.refunded", {"id": "ch_1"}), "")

    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload, header)


def test_sign_payload_produces_a_header_construct_event_accepts(stripe_app):
    event = make_event("checkout.session.completed", {"id": "cs_sandbox_1"})
    payload = json.dumps(event).encode()

    assert gateway.construct_event(payload, gateway.sign_payload(payload, "whsec_test")) == event
    with pytest.raises(InvalidWebhook):
        gateway.construct_event(payload, gateway.sign_payload(payload, "whsec_other"))


def test_a_status_stripe_has_not_documented_promises_nothing():
    """A value Stripe adds later is read as open / unpaid / pending: the shop never fulfils
    or settles on a word it does not know."""
    from app.payments.stripe_gateway import _refund, _session

    session = _session({"id": "cs_new", "status": "on_hold", "payment_status": "authorized"})
    assert (session.status, session.payment_status) == ("open", "unpaid")
    paid = _session({"id": "cs_paid", "status": "complete", "payment_status": "paid"})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    refund = _refund({"id": "re_new", "status": "in_review", "amount": 500})
    assert refund.status == "pending"

"""The one place that talks to Stripe.

Everything else in the shop sees plain dataclasses and three exceptions, never ``stripe``
objects, so the SDK can be upgraded (or faked) behind this module alone. Every POST carries
the caller's idempotency key: the SDK retries network failures and 5xx answers, and a retry
must never create a second session or refund.

A circuit breaker per app stops calling Stripe for a while after repeated outages, so web
workers fail fast with a friendly message instead of each waiting out the timeout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pybreaker
import stripe
from flask import Flask, current_app

from app.payments.types import (
    REFUND_STATES,
    SESSION_PAYMENT_STATUSES,
    SESSION_STATUSES,
    CheckoutSession,
    PaymentError,
    PaymentRejected,
    PaymentsUnavailable,
    Refund,
    RequestInProgress,
    SavedCard,
    documented,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

EXTENSION_KEY = "shop_stripe"
WEBHOOK_TOLERANCE_SECONDS = 300
MAX_NETWORK_RETRIES = 2
BREAKER_FAIL_MAX = 5
BREAKER_RESET_SECONDS = 30
# A retry that finds the first request with the same key still executing gets a 409; the SDK
# retries those twice, then we wait a little longer before telling the shopper to try again.
IN_PROGRESS_WAITS = (0.25, 0.5, 1.0, 1.5)

_build_lock = threading.Lock()


class InvalidWebhook(Exception):
    """The webhook body or its signature is not a genuine, recent Stripe event."""


class _LogStateChanges(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            log.error("stripe circuit opened; payments fail fast for %s s", cb.reset_timeout)
        elif new_state.name == pybreaker.STATE_CLOSED and old_state is not None:
            log.warning("stripe circuit closed; payments resumed")


class _Gateway:
    """The SDK client and the breaker of one app (built lazily from its config)."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.http_client = stripe.RequestsClient(
            timeout=float(cfg.get("STRIPE_TIMEOUT_SECONDS", 10))
        )
        base = cfg.get("STRIPE_API_BASE")
        self.client = stripe.StripeClient(
            cfg.get("STRIPE_SECRET_KEY") or "",
            stripe_version=cfg["STRIPE_API_VERSION"],
            base_addresses={"api": base} if base else None,
            http_client=self.http_client,
            max_network_retries=MAX_NETWORK_RETRIES,
        )
        self.storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=BREAKER_FAIL_MAX,
            reset_timeout=BREAKER_RESET_SECONDS,
            state_storage=self.storage,
            name="stripe",
            # Only outages trip the breaker; a refused card or bad parameter means Stripe is up.
            exclude=[lambda exc: not (isinstance(exc, PaymentsUnavailable) and exc.outage)],
            # The call that trips it keeps its own error (status, request id) for the caller.
            throw_new_error_on_trip=False,
            listeners=[_LogStateChanges()],
        )

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run one SDK call behind the breaker, translating SDK errors.

        ``CircuitBreaker.call`` holds the breaker's lock for the whole call, which would queue
        every Stripe request of the process behind the slowest one. So the network call runs
        outside it; only the state check and the outcome report go through pybreaker.
        """
        if self._is_open():
            log.warning("stripe %s skipped: circuit open", operation)
            raise PaymentsUnavailable(detail="circuit open")
        result: T | None = None
        error: PaymentError | None = None
        try:
            result = fn()
        except stripe.StripeError as exc:
            error = _translate(exc)
            error.__cause__ = exc
            log.warning(
                "stripe %s failed: %s (status %s, code %s, request %s)",
                operation,
                type(exc).__name__,
                error.http_status,
                error.code,
                error.request_id,
            )
        try:
            self.breaker.call(_replay, error)
        except pybreaker.CircuitBreakerError:
            pass  # another thread opened the circuit meanwhile; this call's outcome stands
        except PaymentError:
            pass  # counted (or not); raised below with its original cause
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    def _is_open(self) -> bool:
        if self.storage.state != pybreaker.STATE_OPEN:
            return False
        opened_at = self.storage.opened_at
        if opened_at is None:
            return True
        # After the reset timeout, let calls through; pybreaker half-opens on their outcome.
        return datetime.now(UTC) < opened_at + timedelta(seconds=BREAKER_RESET_SECONDS)

    def close(self) -> None:
        self.http_client.close()


def _replay(error: PaymentError | None) -> None:
    if error is not None:
        raise error


def _translate(exc: stripe.StripeError) -> PaymentError:
    status = exc.http_status
    kwargs: dict[str, Any] = {
        "detail": exc.user_message,
        "code": exc.code,
        "http_status": status,
        "request_id": exc.request_id,
    }
    if isinstance(exc, stripe.APIConnectionError) or status is None or status >= 500:
        return PaymentsUnavailable(outage=True, replayed=_replayed(exc), **kwargs)
    if status == 409:  # the key's first request is still executing, or a lock timed out
        return RequestInProgress(**kwargs)
    if isinstance(exc, stripe.IdempotencyError):
        # The same key with other parameters: a bug of ours, never the shopper's.
        log.error("stripe idempotency error (request %s): %s", exc.request_id, exc.user_message)
        return PaymentRejected(**kwargs)
    if status in (401, 403, 429):
        # Bad keys, a lock conflict or throttling: Stripe is up but we cannot pay right now.
        return PaymentsUnavailable(**kwargs)
    if isinstance(exc, stripe.CardError) and exc.user_message:
        return PaymentRejected(exc.user_message, **kwargs)  # Stripe writes these for customers
    return PaymentRejected(param=getattr(exc, "param", None), **kwargs)


def _replayed(exc: stripe.StripeError) -> bool:
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    return headers.get("idempotent-replayed") == "true"


def _gateway() -> _Gateway:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    gateway = app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        with _build_lock:
            gateway = app.extensions.get(EXTENSION_KEY)
            if gateway is None:
                gateway = app.extensions[EXTENSION_KEY] = _Gateway(app)
    return gateway


def reset(app: Flask) -> None:
    """Drop the app's cached client and breaker, e.g. after changing its Stripe config."""
    gateway = app.extensions.pop(EXTENSION_KEY, None)
    if gateway is not None:
        gateway.close()


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _id(value: Any) -> str | None:
    """An expandable field as its id, whether Stripe sent the id or the object."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id")


def _session(obj: Any) -> CheckoutSession:
    data = _as_dict(obj)
    return CheckoutSession(
        id=data["id"],
        url=data.get("url"),
        status=documented(data.get("status"), SESSION_STATUSES, "open"),
        payment_status=documented(data.get("payment_status"), SESSION_PAYMENT_STATUSES, "unpaid"),
        amount_total=data.get("amount_total"),
        currency=data.get("currency") or "",
        payment_intent=_id(data.get("payment_intent")),
        client_reference_id=data.get("client_reference_id"),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        expires_at=data.get("expires_at"),
        recovery_url=((data.get("after_expiration") or {}).get("recovery") or {}).get("url"),
        promotions_consent=(data.get("consent") or {}).get("promotions"),
        recovered_from=data.get("recovered_from"),
    )


def _refund(obj: Any) -> Refund:
    data = _as_dict(obj)
    return Refund(
        id=data["id"],
        status=documented(data.get("status"), REFUND_STATES, "pending"),
        amount=int(data["amount"]),
        currency=data.get("currency") or "",
        payment_intent=_id(data.get("payment_intent")),
    )


def create_checkout_session(
    *,
    line_items: list[dict[str, Any]],
    currency: str,
    customer_email: str | None,
    client_reference_id: str,
    metadata: dict[str, str],
    success_url: str,
    cancel_url: str,
    expires_at: int,
    idempotency_key: str,
    recovery: bool = False,
    customer: str | None = None,
) -> CheckoutSession:
    """A hosted Checkout page for these lines; the caller stores the session id before redirecting.

    ``recovery``: Stripe keeps a recovery link for the session once it expires and asks the
    customer for promotional consent, so a guest who agreed can be sent that link.

    ``customer``: a signed-in shopper's Customer. Checkout then prefills their email (Stripe
    refuses ``customer_email`` beside it), offers the cards they saved, and shows its own
    "save my payment details" checkbox (``payment_method_save``): a card is saved only when
    they tick it, and only at Stripe. Which methods Checkout offers (cards, wallets, Link) is
    left to the Dashboard's payment-method settings: no ``payment_method_types`` is sent.

    Prices are sent inline (``price_data``) because the catalog, not Stripe, owns them.
    """
    if "{CHECKOUT_SESSION_ID}" not in success_url:
        raise ValueError("success_url must contain {CHECKOUT_SESSION_ID}")
    if not line_items:
        raise ValueError("a checkout session needs at least one line item")
    currency = currency.lower()
    params: dict[str, Any] = {
        "mode": "payment",
        "currency": currency,
        "line_items": [
            {
                "quantity": int(item["quantity"]),
                "price_data": {
                    "currency": currency,
                    "unit_amount": int(item["unit_amount"]),
                    "product_data": {"name": str(item["name"])},
                },
            }
            for item in line_items
        ],
        "client_reference_id": client_reference_id,
        "metadata": dict(metadata),
        # On the PaymentIntent too, so refunds and disputes can be traced to the order.
        "payment_intent_data": {"metadata": dict(metadata)},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at),
    }
    if customer:
        params["customer"] = customer
        params["saved_payment_method_options"] = {"payment_method_save": "enabled"}
    elif customer_email:
        params["customer_email"] = customer_email
    if recovery:
        params["after_expiration"] = {"recovery": {"enabled": True}}
        params["consent_collection"] = {"promotions": "auto"}
    gateway = _gateway()
    for wait in (*IN_PROGRESS_WAITS, None):
        try:
            obj = gateway.call(
                "checkout.sessions.create",
                lambda: gateway.client.v1.checkout.sessions.create(
                    params,  # type: ignore[arg-type]
                    {"idempotency_key": idempotency_key},
                ),
            )
        except RequestInProgress:
            if wait is None:
                raise
            time.sleep(wait)  # the first request with this key is still being answered
            continue
        return _session(obj)
    raise AssertionError("unreachable")


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    """The session's current state, straight from Stripe (the source of truth for payment)."""
    gateway = _gateway()
    obj = gateway.call(
        "checkout.sessions.retrieve",
        lambda: gateway.client.v1.checkout.sessions.retrieve(session_id),
    )
    return _session(obj)


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> CheckoutSession:
    """Close an open session so it can no longer be paid.

    Expiring races with the customer paying or with Stripe's own expiry, so a session that is
    already complete or expired is not an error: its current state is returned instead.
    """
    gateway = _gateway()
    try:
        obj = gateway.call(
            "checkout.sessions.expire",
            lambda: gateway.client.v1.checkout.sessions.expire(
                session_id, options={"idempotency_key": idempotency_key}
            ),
        )
    except PaymentRejected:
        current = retrieve_checkout_session(session_id)
        if current.status == "open":
            raise
        return current
    return _session(obj)


def create_refund(
    *,
    payment_intent: str,
    amount: int,
    idempotency_key: str,
    metadata: dict[str, str],
) -> Refund:
    """Refund ``amount`` (minor units) of a paid PaymentIntent; over-refunds are rejected."""
    if amount <= 0:
        raise ValueError("refund amount must be positive")
    gateway = _gateway()
    obj = gateway.call(
        "refunds.create",
        lambda: gateway.client.v1.refunds.create(
            {"payment_intent": payment_intent, "amount": int(amount), "metadata": dict(metadata)},
            {"idempotency_key": idempotency_key},
        ),
    )
    return _refund(obj)


def _until_answered(operation: str, fn: Callable[[], T]) -> T:
    """An idempotent POST, waiting while the first request with its key is still executing."""
    gateway = _gateway()
    for wait in (*IN_PROGRESS_WAITS, None):
        try:
            return gateway.call(operation, fn)
        except RequestInProgress:
            if wait is None:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str) -> str:
    """A Customer for an account (its id). The key makes concurrent first checkouts of one
    account get the same Customer back rather than one each."""
    gateway = _gateway()
    obj = _until_answered(
        "customers.create",
        lambda: gateway.client.v1.customers.create(
            {"email": email, "name": name, "metadata": {"user_id": str(user_id)}},
            {"idempotency_key": idempotency_key},
        ),
    )
    return str(_as_dict(obj)["id"])


def update_customer(customer_id: str, *, email: str, name: str, idempotency_key: str) -> None:
    gateway = _gateway()
    _until_answered(
        "customers.update",
        lambda: gateway.client.v1.customers.update(
            customer_id, {"email": email, "name": name}, {"idempotency_key": idempotency_key}
        ),
    )


def delete_customer(customer_id: str) -> None:
    """DELETE /v1/customers/{id}: permanent, and its payment methods go with it. A customer
    deleted already (a retried task) is not an error."""
    gateway = _gateway()
    try:
        gateway.call("customers.delete", lambda: gateway.client.v1.customers.delete(customer_id))
    except PaymentRejected as exc:
        if exc.http_status != 404:
            raise


def _card(obj: Any) -> SavedCard:
    data = _as_dict(obj)
    card = data.get("card") or {}
    return SavedCard(
        id=str(data["id"]),
        brand=str(card.get("brand") or "card"),
        last4=str(card.get("last4") or "")[-4:],
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )


def list_saved_cards(customer_id: str) -> list[SavedCard]:
    """The customer's cards, newest first (Stripe's order); the first 100 (no shopper keeps
    more)."""
    gateway = _gateway()
    page = gateway.call(
        "customers.payment_methods.list",
        lambda: gateway.client.v1.customers.payment_methods.list(
            customer_id, {"type": "card", "limit": 100}
        ),
    )
    return [_card(item) for item in _as_dict(page).get("data") or []]


def detach_saved_card(customer_id: str, card_id: str) -> None:
    """Detach a card, after Stripe confirms it is this customer's: retrieving it through the
    customer answers 404 for anyone else's, so a forged id removes nothing."""
    gateway = _gateway()
    gateway.call(
        "customers.payment_methods.retrieve",
        lambda: gateway.client.v1.customers.payment_methods.retrieve(customer_id, card_id),
    )
    gateway.call(
        "payment_methods.detach", lambda: gateway.client.v1.payment_methods.detach(card_id)
    )


def construct_event(payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """Verify a webhook's signature and age (300 s) and return the event as a plain dict."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        log.error("stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        raise InvalidWebhook("webhook secret not configured")
    if not signature_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        # What stripe.Webhook.construct_event checks, without its Event building: that raises
        # AttributeError on a signed body that is JSON but not an object, and we want a dict.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook("bad signature") from exc
    except (ValueError, RecursionError) as exc:  # invalid JSON or UTF-8, or nested too deep
        raise InvalidWebhook("bad payload") from exc
    if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
        raise InvalidWebhook("not an event")
    return dict(event)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload`` (used by the sandbox)."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp
    )

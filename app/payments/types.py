"""What the shop knows of a payment provider: neutral answers, errors and the protocol both
providers implement (app/payments/stripe_gateway.py for Stripe, app/payments/sandbox.py
offline). Nothing outside those two modules sees a provider's own objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

UNAVAILABLE_MESSAGE = (
    "Payments are unavailable right now. Your cart and order are kept; "
    "please try again in a few minutes."
)
REJECTED_MESSAGE = "The payment could not be processed. Please check the details and try again."


class PaymentError(Exception):
    """Base of the gateway's errors; ``str(exc)`` is always safe to show to a customer."""

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = detail  # Stripe's developer message: for logs, never for customers
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class PaymentsUnavailable(PaymentError):
    """Stripe is unreachable, failing (5xx), too slow, throttling us, or the circuit is open."""

    def __init__(
        self,
        message: str = UNAVAILABLE_MESSAGE,
        *,
        outage: bool = False,
        replayed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.outage = outage  # a connection failure, timeout or 5xx: counts toward the breaker
        # Stripe answered with an error it saved for this idempotency key: sending the same
        # request again gets the same error for as long as Stripe keeps the key (a day).
        self.replayed = replayed


class PaymentRejected(PaymentError):
    """Stripe answered and refused the request (card or parameter error, unknown id)."""

    def __init__(
        self, message: str = REJECTED_MESSAGE, *, param: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.param = param  # the request parameter Stripe refused, e.g. "expires_at"


class RequestInProgress(PaymentsUnavailable):
    """Another request with the same idempotency key is still executing at Stripe (409)."""


@dataclass
class CheckoutSession:
    id: str
    url: str | None
    status: str  # "open" | "complete" | "expired"
    payment_status: str  # "paid" | "unpaid" | "no_payment_required"
    amount_total: int | None
    currency: str
    payment_intent: str | None
    client_reference_id: str | None
    metadata: dict[str, str]
    expires_at: int | None


@dataclass
class Refund:
    id: str
    status: str
    amount: int
    currency: str
    payment_intent: str | None


class PaymentProvider(Protocol):
    """The four calls checkout, fulfilment and refunds make (app/payments/provider.py picks
    the configured one). Every POST carries the caller's idempotency key."""

    def create_checkout_session(
        self,
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
    ) -> CheckoutSession: ...

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession: ...

    def expire_checkout_session(
        self, session_id: str, *, idempotency_key: str
    ) -> CheckoutSession: ...

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> Refund: ...

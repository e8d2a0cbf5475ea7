"""What the shop knows of a payment provider: neutral answers, errors and the protocol both
providers implement (app/payments/stripe_gateway.py for Stripe, app/payments/sandbox.py
offline). Nothing outside those two modules sees a provider's own objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, get_args

# The smallest amount a card payment may be, per currency, in minor units: Stripe's table
# (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); 50 for the rest.
MINIMUM_CHARGE = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "sgd": 50,
    "jpy": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "czk": 1500,
    "huf": 17500,
}


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency.lower(), 50)


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


# Stripe's documented values (API reference: Checkout Session ``status`` and
# ``payment_status``, Refund ``status``); a value Stripe adds later is read as the one that
# promises nothing (open, unpaid, pending), so the shop never fulfils on a word it does not know.
SessionStatus = Literal["open", "complete", "expired"]
SessionPaymentStatus = Literal["paid", "unpaid", "no_payment_required"]
RefundState = Literal["pending", "requires_action", "succeeded", "failed", "canceled"]
SESSION_STATUSES: tuple[SessionStatus, ...] = get_args(SessionStatus)
SESSION_PAYMENT_STATUSES: tuple[SessionPaymentStatus, ...] = get_args(SessionPaymentStatus)
REFUND_STATES: tuple[RefundState, ...] = get_args(RefundState)
_T = TypeVar("_T", bound=str)


def documented(value: object, known: tuple[_T, ...], otherwise: _T) -> _T:
    """``value`` when it is one of the documented ``known`` values, else ``otherwise``."""
    for candidate in known:
        if value == candidate:
            return candidate
    return otherwise


@dataclass
class CheckoutSession:
    id: str
    url: str | None
    status: SessionStatus
    payment_status: SessionPaymentStatus
    amount_total: int | None
    currency: str
    payment_intent: str | None
    client_reference_id: str | None
    metadata: dict[str, str]
    expires_at: int | None
    # An expired session's recovery link (when asked for with after_expiration.recovery),
    # whether the customer agreed there to promotional e-mail, and, for a session made from
    # such a link, the expired session it came from.
    recovery_url: str | None = None
    promotions_consent: str | None = None
    recovered_from: str | None = None


@dataclass
class Refund:
    id: str
    status: RefundState
    amount: int
    currency: str
    payment_intent: str | None


@dataclass(frozen=True)
class SavedCard:
    """A card saved at the provider under a customer: only what is shown to its owner."""

    id: str  # the provider's payment method id
    brand: str  # visa, mastercard, amex, … (Stripe's card.brand)
    last4: str
    exp_month: int
    exp_year: int


class PaymentProvider(Protocol):
    """The calls checkout, fulfilment, refunds and saved cards make (app/payments/provider.py
    picks the configured one). Every POST that creates something carries the caller's
    idempotency key."""

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
        recovery: bool = False,
        customer: str | None = None,
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

    def create_customer(
        self, *, email: str, name: str, user_id: int, idempotency_key: str
    ) -> str: ...

    def update_customer(
        self, customer_id: str, *, email: str, name: str, idempotency_key: str
    ) -> None: ...

    def delete_customer(self, customer_id: str) -> None: ...

    def list_saved_cards(self, customer_id: str) -> list[SavedCard]: ...

    def detach_saved_card(self, customer_id: str, card_id: str) -> None: ...

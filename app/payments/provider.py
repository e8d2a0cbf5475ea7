"""The payment provider the shop is configured with: Stripe, or the offline sandbox.

Both implement :class:`app.payments.types.PaymentProvider` and answer with its neutral
dataclasses, so checkout, fulfilment and refunds never know which one they talk to. The
sandbox cannot be enabled in production (see app/config.py).
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.payments.types import CheckoutSession, PaymentProvider, Refund, SavedCard


def _impl() -> PaymentProvider:
    if current_app.config["PAYMENT_PROVIDER"] == "sandbox":
        from app.payments import sandbox

        return sandbox
    from app.payments import stripe_gateway

    return stripe_gateway


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
    return _impl().create_checkout_session(
        line_items=line_items,
        currency=currency,
        customer_email=customer_email,
        client_reference_id=client_reference_id,
        metadata=metadata,
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=expires_at,
        idempotency_key=idempotency_key,
        recovery=recovery,
        customer=customer,
    )


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    return _impl().retrieve_checkout_session(session_id)


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> CheckoutSession:
    return _impl().expire_checkout_session(session_id, idempotency_key=idempotency_key)


def create_refund(
    *, payment_intent: str, amount: int, idempotency_key: str, metadata: dict[str, str]
) -> Refund:
    return _impl().create_refund(
        payment_intent=payment_intent,
        amount=amount,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str) -> str:
    return _impl().create_customer(
        email=email, name=name, user_id=user_id, idempotency_key=idempotency_key
    )


def update_customer(customer_id: str, *, email: str, name: str, idempotency_key: str) -> None:
    _impl().update_customer(customer_id, email=email, name=name, idempotency_key=idempotency_key)


def delete_customer(customer_id: str) -> None:
    """Delete the customer and the cards saved under it (an account was deleted)."""
    _impl().delete_customer(customer_id)


def list_saved_cards(customer_id: str) -> list[SavedCard]:
    return _impl().list_saved_cards(customer_id)


def detach_saved_card(customer_id: str, card_id: str) -> None:
    """Remove one of the customer's cards; :class:`PaymentRejected` when it is not theirs."""
    _impl().detach_saved_card(customer_id, card_id)


def provider_name() -> str:
    return str(current_app.config["PAYMENT_PROVIDER"])

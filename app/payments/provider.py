"""The payment provider the shop is configured with: Stripe, or the offline sandbox.

Both implement :class:`app.payments.types.PaymentProvider` and answer with its neutral
dataclasses, so checkout, fulfilment and refunds never know which one they talk to. The
sandbox cannot be enabled in production (see app/config.py).
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.payments.types import CheckoutSession, PaymentProvider, Refund


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


def provider_name() -> str:
    return str(current_app.config["PAYMENT_PROVIDER"])

"""The payment provider the shop is configured with: Stripe, or the offline sandbox.

Both answer with the same dataclasses, so checkout, fulfilment and refunds never know which
one they talk to. The sandbox cannot be enabled in production (see app/config.py).
"""

from __future__ import annotations

from typing import Any

from flask import current_app


def _impl() -> Any:
    if current_app.config["PAYMENT_PROVIDER"] == "sandbox":
        from app.payments import sandbox

        return sandbox
    from app.payments import stripe_gateway

    return stripe_gateway


def create_checkout_session(**kwargs: Any) -> Any:
    return _impl().create_checkout_session(**kwargs)


def retrieve_checkout_session(session_id: str) -> Any:
    return _impl().retrieve_checkout_session(session_id)


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> Any:
    return _impl().expire_checkout_session(session_id, idempotency_key=idempotency_key)


def create_refund(**kwargs: Any) -> Any:
    return _impl().create_refund(**kwargs)


def provider_name() -> str:
    return current_app.config["PAYMENT_PROVIDER"]

"""Offline payment sandbox: a stand-in for Stripe Checkout for the embedded default.

Sessions live in the database; the TEST MODE page offers Pay, Decline and Cancel and then
delivers a correctly signed, Stripe-shaped event through the same webhook code path.
It answers with the Stripe gateway's dataclasses and is refused in production by config.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from app.extensions import db
from app.notifications.rendering import external_url
from app.payments.models import SandboxSession
from app.payments.stripe_gateway import CheckoutSession, PaymentRejected, Refund


def _as_dataclass(row: SandboxSession) -> CheckoutSession:
    return CheckoutSession(
        id=row.id,
        url=_page_url(row.id),
        status=row.status,
        payment_status=row.payment_status,
        amount_total=row.amount_total,
        currency=row.currency,
        payment_intent=row.payment_intent or None,
        client_reference_id=row.client_reference_id,
        metadata=dict(row.metadata_ or {}),
        expires_at=row.expires_at,
    )


def _page_url(session_id: str) -> str:
    """The shopper's own host when there is a request; SHOP_BASE_URL from a task."""
    if has_request_context():
        return url_for("payments.sandbox_checkout", session_id=session_id, _external=True)
    return external_url("payments.sandbox_checkout", session_id=session_id)


def _get(session_id: str) -> SandboxSession | None:
    return db.session.get(SandboxSession, session_id)


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
) -> CheckoutSession:
    existing = db.session.execute(
        sa.select(SandboxSession).where(SandboxSession.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        return _as_dataclass(existing)
    row = SandboxSession(
        id="cs_sandbox_" + secrets.token_urlsafe(18),
        status="open",
        payment_status="unpaid",
        amount_total=sum(i["unit_amount"] * i["quantity"] for i in line_items),
        currency=currency.lower(),
        customer_email=customer_email or "",
        client_reference_id=client_reference_id,
        metadata_=metadata,
        line_items=line_items,
        success_url=success_url,
        cancel_url=cancel_url,
        payment_intent="",
        idempotency_key=idempotency_key,
        expires_at=expires_at,
    )
    db.session.add(row)
    db.session.flush()
    return _as_dataclass(row)


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    row = _get(session_id)
    if row is None:
        raise PaymentRejected("No such checkout session.")
    return _as_dataclass(row)


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> CheckoutSession:
    row = _get(session_id)
    if row is None:
        raise PaymentRejected("No such checkout session.")
    if row.status == "open":
        row.status = "expired"
        db.session.flush()
    return _as_dataclass(row)


def create_refund(
    *, payment_intent: str, amount: int, idempotency_key: str, metadata: dict[str, str]
) -> Refund:
    return Refund(
        id="re_sandbox_" + secrets.token_urlsafe(10),
        status="succeeded",
        amount=amount,
        currency="",
        payment_intent=payment_intent,
    )


def act(session_id: str, action: str) -> tuple[SandboxSession, str | None]:
    """Pay, decline or cancel; returns the session and the event type to deliver, if any."""
    row = _get(session_id)
    if row is None or row.status != "open":
        raise LookupError(session_id)
    if action == "pay":
        row.status, row.payment_status = "complete", "paid"
        row.payment_intent = "pi_sandbox_" + secrets.token_urlsafe(12)
        event = "checkout.session.completed"
    elif action == "decline":
        row.status = "expired"
        event = "checkout.session.async_payment_failed"
    else:
        return row, None  # cancel: the shopper goes back; the shop's cancel page handles it
    db.session.flush()
    return row, event


def deliver(row: SandboxSession, event_type: str) -> None:
    """Sign a Stripe-shaped event like Stripe does and hand it to the webhook receiver."""
    from app.payments.stripe_gateway import sign_payload
    from app.payments.webhooks import receive

    session = _as_dataclass(row)
    event = {
        "id": "evt_sandbox_" + secrets.token_urlsafe(12),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": session.id,
                "object": "checkout.session",
                "status": session.status,
                "payment_status": session.payment_status,
                "amount_total": session.amount_total,
                "currency": session.currency,
                "client_reference_id": session.client_reference_id,
                "metadata": session.metadata,
                "payment_intent": session.payment_intent,
            }
        },
    }
    payload = json.dumps(event).encode()
    receive(payload, sign_payload(payload, current_app.config["STRIPE_WEBHOOK_SECRET"]))

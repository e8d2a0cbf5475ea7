"""Offline payment sandbox: a stand-in for Stripe Checkout for the embedded default.

Sessions live in the database; the TEST MODE page offers Pay, Decline and Cancel and then
delivers a correctly signed event, shaped as Stripe's, through the same webhook code path.
It answers with the Stripe gateway's dataclasses, keeps Stripe's documented rules (a session
expires 30 minutes to 24 hours after it is created; an idempotency key replays its first
answer and refuses other parameters), and is refused in production by config.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from app.db import bound_values, upsert
from app.extensions import db
from app.notifications.rendering import external_url
from app.payments.models import SandboxCard, SandboxCustomer, SandboxSession
from app.payments.types import (
    SESSION_PAYMENT_STATUSES,
    SESSION_STATUSES,
    CheckoutSession,
    PaymentRejected,
    PaymentsUnavailable,
    Refund,
    SavedCard,
    documented,
)

MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600  # Stripe's window for expires_at
# Every field of Stripe's Checkout Session and Event objects (its OpenAPI fixtures), so code
# written against the sandbox's events meets the real ones' shape.
SESSION_FIELDS = (
    "adaptive_pricing", "after_expiration", "allow_promotion_codes", "amount_subtotal",
    "amount_total", "automatic_tax", "billing_address_collection", "cancel_url",
    "client_reference_id", "client_secret", "collected_information", "consent",
    "consent_collection", "created", "currency", "currency_conversion", "custom_fields",
    "custom_text", "customer", "customer_account", "customer_creation", "customer_details",
    "customer_email", "discounts", "expires_at", "id", "integration_identifier", "invoice",
    "invoice_creation", "livemode", "locale", "managed_payments", "metadata", "mode", "object",
    "origin_context", "payment_intent", "payment_link", "payment_method_collection",
    "payment_method_configuration_details", "payment_method_options", "payment_method_types",
    "payment_status", "permissions", "phone_number_collection", "recovered_from",
    "saved_payment_method_options", "setup_intent", "shipping_address_collection",
    "shipping_cost", "shipping_options", "status", "submit_type", "subscription",
    "success_url", "total_details", "ui_mode", "url", "wallet_options",
)  # fmt: skip


def status_of(row: SandboxSession | SimpleNamespace) -> str:
    """Stripe closes an unpaid session at its expires_at by itself; so does the sandbox (as
    read, without writing: reading a session never changes the shop's database)."""
    if row.status == "open" and row.expires_at <= time.time():
        return "expired"
    return row.status


def _as_dataclass(row: SandboxSession | SimpleNamespace) -> CheckoutSession:
    status = status_of(row)
    return CheckoutSession(
        id=row.id,
        url=_page_url(row.id) if status == "open" else None,
        status=documented(status, SESSION_STATUSES, "open"),
        payment_status=documented(row.payment_status, SESSION_PAYMENT_STATUSES, "unpaid"),
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
    return db.session.get(SandboxSession, session_id[:64])


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
    recovery: bool = False,  # the offline sandbox keeps no recovery links (nor consent)
    customer: str | None = None,
) -> CheckoutSession:
    if customer and db.session.get(SandboxCustomer, customer[:64]) is None:
        raise PaymentRejected(detail=f"No such customer: '{customer}'", param="customer")
    sent = {
        "line_items": line_items,
        "currency": currency.lower(),
        "customer_email": customer_email or "",
        "client_reference_id": client_reference_id,
        "metadata": dict(metadata),
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at),
        "customer": customer or "",
    }
    now = time.time()
    fresh = now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY
    if fresh:
        # Two sends of one request at the same moment (a double press replaying the first
        # one's attempt): one session, as Stripe gives; the second waits for the first.
        values = {
            "id": "cs_sandbox_" + secrets.token_urlsafe(18),
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": sum(i["unit_amount"] * i["quantity"] for i in line_items),
            "currency": sent["currency"],
            "customer_email": sent["customer_email"],
            "client_reference_id": client_reference_id,
            "metadata_": sent["metadata"],
            "line_items": line_items,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "payment_intent": "",
            "idempotency_key": idempotency_key,
            "expires_at": int(expires_at),
            "customer": sent["customer"],
        }
        statement = _session_insert(db.engine.dialect.name, tuple(values))
        if db.session.scalars(statement, values).one_or_none() is not None:
            return _as_dataclass(SimpleNamespace(**values))  # as stored: no row to read back
    existing = db.session.execute(
        sa.select(SandboxSession).where(SandboxSession.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:  # the key was used before: its answer again, as Stripe does
        if _sent_with(existing) != sent:
            raise PaymentRejected(
                detail="Keys for idempotent requests can only be used with the same "
                "parameters they were first used with.",
                code="idempotency_error",
            )
        return _as_dataclass(existing)
    if not fresh:
        raise PaymentRejected(
            detail="The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            param="expires_at",
        )
    raise PaymentsUnavailable()  # the key's first request rolled back meanwhile: try again


@functools.cache
def _session_insert(dialect: str, columns: tuple[str, ...]) -> Any:
    """The INSERT of a new session's ``columns``, built once per process and database
    (``dialect``: its name, as :func:`app.db.upsert` picks it), the values bound at each run."""
    return (
        upsert(SandboxSession)
        .values(bound_values(SandboxSession, columns))
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(SandboxSession.id)
        .execution_options(dml_strategy="orm")
    )


def _sent_with(row: SandboxSession) -> dict[str, Any]:
    return {
        "line_items": row.line_items,
        "currency": row.currency,
        "customer_email": row.customer_email,
        "client_reference_id": row.client_reference_id,
        "metadata": dict(row.metadata_ or {}),
        "success_url": row.success_url,
        "cancel_url": row.cancel_url,
        "expires_at": row.expires_at,
        "customer": row.customer,
    }


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    row = _get(session_id)
    if row is None:
        raise PaymentRejected("No such checkout session.")
    return _as_dataclass(row)


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> CheckoutSession:
    row = _get(session_id)
    if row is None:
        raise PaymentRejected("No such checkout session.")
    if status_of(row) == "open":
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


def create_customer(*, email: str, name: str, user_id: int, idempotency_key: str) -> str:
    """As Stripe: one customer per idempotency key, which refuses other parameters."""
    created = db.session.scalars(
        upsert(SandboxCustomer)
        .values(
            id="cus_sandbox_" + secrets.token_urlsafe(12),
            email=email,
            name=name,
            idempotency_key=idempotency_key,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(SandboxCustomer.id)
    ).one_or_none()
    if created is not None:
        return created
    existing = db.session.execute(
        sa.select(SandboxCustomer).where(SandboxCustomer.idempotency_key == idempotency_key)
    ).scalar_one()
    if (existing.email, existing.name) != (email, name):
        raise PaymentRejected(
            detail="Keys for idempotent requests can only be used with the same parameters "
            "they were first used with.",
            code="idempotency_error",
        )
    return existing.id


def _customer(customer_id: str) -> SandboxCustomer:
    row = db.session.get(SandboxCustomer, customer_id[:64])
    if row is None:
        raise PaymentRejected(detail=f"No such customer: '{customer_id}'", http_status=404)
    return row


def update_customer(customer_id: str, *, email: str, name: str, idempotency_key: str) -> None:
    row = _customer(customer_id)
    row.email, row.name = email, name
    db.session.flush()


def delete_customer(customer_id: str) -> None:
    row = db.session.get(SandboxCustomer, customer_id[:64])
    if row is not None:
        db.session.execute(sa.delete(SandboxCard).where(SandboxCard.customer_id == customer_id))
        db.session.delete(row)
        db.session.flush()


def list_saved_cards(customer_id: str) -> list[SavedCard]:
    _customer(customer_id)
    rows = db.session.execute(
        sa.select(SandboxCard)
        .where(SandboxCard.customer_id == customer_id)
        .order_by(SandboxCard.created_at.desc(), SandboxCard.id)
    ).scalars()
    return [SavedCard(r.id, r.brand, r.last4, r.exp_month, r.exp_year) for r in rows]


def detach_saved_card(customer_id: str, card_id: str) -> None:
    card = db.session.get(SandboxCard, card_id[:64])
    if card is None or card.customer_id != customer_id:
        raise PaymentRejected(detail=f"No such PaymentMethod: '{card_id}'", http_status=404)
    card.customer_id = None  # detached for good, as at Stripe
    db.session.flush()


# The TEST MODE page's card, as Stripe's test card 4242 4242 4242 4242.
TEST_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12}


def act(
    session_id: str, action: str, *, save_card: bool = False
) -> tuple[SandboxSession, str | None]:
    """Pay, decline or cancel; returns the session and the event type to deliver, if any.
    ``save_card``: the shopper ticked "save my card" (offered only with a customer)."""
    row = _get(session_id)
    if row is None or status_of(row) != "open":
        raise LookupError(session_id)
    if action == "pay" and save_card and row.customer:
        db.session.add(
            SandboxCard(
                id="pm_sandbox_" + secrets.token_urlsafe(12),
                customer_id=row.customer,
                exp_year=time.gmtime().tm_year + 3,
                **TEST_CARD,
            )
        )
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


def perform(session_id: str, action: str, *, save_card: bool = False) -> str:
    """The TEST MODE page's buttons: act, deliver the event like Stripe would, and give the
    address the shopper goes back to. The sandbox stands in for Stripe's servers, so it
    commits its own work before the shopper returns, as Stripe's would be done by then."""
    from app.db import commit_point

    row, event_type = act(session_id, action, save_card=save_card)
    success_url = row.success_url.replace("{CHECKOUT_SESSION_ID}", row.id)
    cancel_url = row.cancel_url
    if event_type:
        deliver(row, event_type)
    commit_point("sandbox-event-delivered")  # stored (and processed) before the shopper is back
    if action == "pay":
        return success_url
    separator = "&" if "?" in cancel_url else "?"
    return cancel_url + (f"{separator}declined=1" if action == "decline" else "")


def session_object(row: SandboxSession) -> dict[str, Any]:
    """The session as Stripe's API shows it: every field, None where it does not apply."""
    known: dict[str, Any] = {
        "id": row.id,
        "object": "checkout.session",
        "amount_subtotal": row.amount_total,
        "amount_total": row.amount_total,
        "cancel_url": row.cancel_url,
        "client_reference_id": row.client_reference_id,
        "created": int(row.created_at.timestamp()) if row.created_at else int(time.time()),
        "currency": row.currency,
        "custom_fields": [],
        "customer": row.customer or None,
        "customer_details": {"email": row.customer_email} if row.status == "complete" else None,
        "customer_email": row.customer_email or None,
        "expires_at": row.expires_at,
        "livemode": False,
        "metadata": dict(row.metadata_ or {}),
        "mode": "payment",
        "payment_intent": row.payment_intent or None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": row.payment_status,
        "shipping_options": [],
        "status": status_of(row),
        "success_url": row.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": _page_url(row.id) if status_of(row) == "open" else None,
    }
    return {name: known.get(name) for name in SESSION_FIELDS}


def deliver(row: SandboxSession, event_type: str) -> None:
    """Sign an event shaped as Stripe's and hand it to the webhook receiver."""
    from app.payments.stripe_gateway import sign_payload
    from app.payments.webhooks import receive

    event = {
        "id": "evt_sandbox_" + secrets.token_urlsafe(12),
        "object": "event",
        "api_version": current_app.config["STRIPE_API_VERSION"],
        "created": int(time.time()),
        "data": {"object": session_object(row)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    payload = json.dumps(event).encode()
    receive(payload, sign_payload(payload, current_app.config["STRIPE_WEBHOOK_SECRET"]))

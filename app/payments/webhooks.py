"""Stripe webhooks: verify, store once, answer fast, process in a task.

Duplicates are acknowledged and ignored (unique event id). Processing is idempotent and safe
in any order: a paid order never goes back, fulfilment runs once whatever arrives twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.db import affected, after_commit, upsert, utcnow
from app.extensions import db
from app.payments import tasks
from app.payments.models import RETRYABLE_EVENTS, EventStatus, WebhookEvent

log = logging.getLogger("app.security.webhooks")


def store_event(event: dict[str, Any]) -> WebhookEvent | None:
    """Record a verified event; ``None`` when this event id was seen before."""
    row_id = db.session.execute(
        upsert(WebhookEvent)
        .values(
            event_id=str(event["id"])[:255],
            type=str(event.get("type", ""))[:100],
            payload=event,
            status=EventStatus.RECEIVED,
            attempts=0,
            last_error="",
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(WebhookEvent.id)
    ).scalar_one_or_none()
    if row_id is None:
        return None
    row = db.session.get(WebhookEvent, row_id)
    after_commit(lambda: enqueue(row_id))
    return row


def receive(payload: bytes, signature: str) -> WebhookEvent | None:
    """The one entry for events, from Stripe's POST or the sandbox: verify, then store."""
    from app.payments.stripe_gateway import construct_event

    event = construct_event(payload, signature)  # raises InvalidWebhook
    return store_event(event)


def enqueue(webhook_event_id: int) -> None:
    tasks.process_webhook_event(webhook_event_id)


def _session_object(event: dict[str, Any]) -> dict[str, Any]:
    return (event.get("data") or {}).get("object") or {}


# The handlers pass on the session's id only: app/checkout/completion.py retrieves the session
# from the provider and trusts that, never the event's copy of it.


def _session_id(event: dict[str, Any]) -> str:
    return str(_session_object(event).get("id", ""))[:255]


def fetch_session(event: dict[str, Any]) -> Any:
    """The event's session as the provider reports it now, fetched before the transaction
    that handles the event (no row is locked while waiting on the network); None when the
    provider cannot say (the handler asks again, and fails into a retry if it still cannot)."""
    from app.payments import provider
    from app.payments.types import PaymentError

    try:
        return provider.retrieve_checkout_session(_session_id(event))
    except PaymentError:
        return None


def handle_session_paid(event: dict[str, Any], session: Any = None) -> None:
    from app.checkout.completion import complete_session

    complete_session(_session_id(event), session=session)


def handle_session_failed(event: dict[str, Any], session: Any = None) -> None:
    from app.checkout.completion import record_payment_failed

    record_payment_failed(_session_id(event), "the payment failed", session=session)


def handle_session_expired(event: dict[str, Any], session: Any = None) -> None:
    from app.checkout.completion import record_session_expired

    record_session_expired(_session_id(event), session=session)


def handle_charge_refunded(event: dict[str, Any], prepared: Any = None) -> None:
    """charge.refunded: the provider's running total; settles the shop's pending refunds it
    covers (see app.orders.refund_settlement) and never goes backwards."""
    from app.orders.refund_settlement import record_provider_total

    charge = _session_object(event)
    intent = charge.get("payment_intent") or ""
    if isinstance(intent, dict):
        intent = intent.get("id", "")
    raw = charge.get("amount_refunded")
    record_provider_total(str(intent), raw if isinstance(raw, int) and raw >= 0 else 0)


def handle_refund_event(event: dict[str, Any], prepared: Any = None) -> None:
    from app.orders.refund_settlement import record_provider_refund

    record_provider_refund(_session_object(event))


def handle_dispute_event(event: dict[str, Any], prepared: Any = None) -> None:
    """charge.dispute.*: the dispute as the event describes it (app.payments.disputes)."""
    from app.payments.disputes import record_dispute_event

    record_dispute_event(event)


HANDLERS: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "charge.dispute.created": handle_dispute_event,
    "charge.dispute.updated": handle_dispute_event,
    "charge.dispute.closed": handle_dispute_event,
    "charge.refunded": handle_charge_refunded,
    "refund.created": handle_refund_event,
    "refund.updated": handle_refund_event,
    "refund.failed": handle_refund_event,
    "checkout.session.completed": handle_session_paid,
    "checkout.session.async_payment_succeeded": handle_session_paid,
    "checkout.session.async_payment_failed": handle_session_failed,
    "checkout.session.expired": handle_session_expired,
}


# What a handler needs from the provider, fetched with no transaction open (see ``run``).
PREPARE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "checkout.session.completed": fetch_session,
    "checkout.session.async_payment_succeeded": fetch_session,
    "checkout.session.async_payment_failed": fetch_session,
    "checkout.session.expired": fetch_session,
}


def claimable(webhook_event_id: int) -> tuple[str, dict[str, Any]] | None:
    """The stored event's type and payload while it waits to be processed, else None."""
    row = db.session.get(WebhookEvent, webhook_event_id)
    if row is None or row.status not in RETRYABLE_EVENTS:
        return None
    return row.type, dict(row.payload)


def process(webhook_event_id: int, *, prepared: Any = None) -> str | None:
    """Claim and handle one stored event. Returns its new status (None: not claimable).
    ``prepared``: what :data:`PREPARE` fetched for it (else the handler fetches it)."""
    now = utcnow()
    claimed = affected(
        sa.update(WebhookEvent)
        .where(WebhookEvent.id == webhook_event_id, WebhookEvent.status.in_(RETRYABLE_EVENTS))
        .values(status=EventStatus.PROCESSING, claimed_at=now, attempts=WebhookEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if not claimed:
        return None
    row = db.session.get(WebhookEvent, webhook_event_id, populate_existing=True)
    assert row is not None
    handler = HANDLERS.get(row.type)
    if handler is None:
        row.status, row.processed_at = EventStatus.IGNORED, now
        return row.status
    savepoint = db.session.begin_nested()
    try:
        handler(row.payload, prepared)
    except Exception as exc:  # kept, retried, dead-lettered: never lost
        savepoint.rollback()
        max_attempts = current_app.config["WEBHOOK_MAX_ATTEMPTS"]
        row.status = EventStatus.DEAD if row.attempts >= max_attempts else EventStatus.FAILED
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        log.exception("webhook %s (%s) failed, attempt %s", row.event_id, row.type, row.attempts)
        return row.status
    savepoint.commit()
    row.status, row.processed_at, row.last_error = EventStatus.PROCESSED, now, ""
    return row.status


def sweep(limit: int = 200) -> int:
    """Re-drive events a lost task or a failure left unprocessed (after a short pause)."""
    now = utcnow()
    settled = now - timedelta(seconds=60)
    db.session.execute(  # a worker died while processing: hand the event out again
        sa.update(WebhookEvent)
        .where(
            WebhookEvent.status == EventStatus.PROCESSING,
            WebhookEvent.claimed_at < now - timedelta(minutes=5),
        )
        .values(status=EventStatus.FAILED, last_error="worker lost while processing")
        .execution_options(synchronize_session=False)
    )
    ids = list(
        db.session.execute(
            sa.select(WebhookEvent.id)
            .where(WebhookEvent.status.in_(RETRYABLE_EVENTS), WebhookEvent.received_at <= settled)
            .order_by(WebhookEvent.id)
            .limit(limit)
        ).scalars()
    )
    for event_id in ids:
        after_commit(partial(enqueue, event_id))
    return len(ids)


def replay(webhook_event_id: int) -> bool:
    """Staff replay of a dead event."""
    return (
        affected(
            sa.update(WebhookEvent)
            .where(WebhookEvent.id == webhook_event_id, WebhookEvent.status == EventStatus.DEAD)
            .values(status=EventStatus.FAILED, attempts=0)
            .execution_options(synchronize_session=False)
        )
        == 1
    )


def replay_now(webhook_event_id: int, *, actor_id: int | None = None) -> bool:
    """Staff replay from the admin area: a dead event goes through ``replay``; a failed one
    is already retryable. Either is processed again right after the commit (audited)."""
    event = db.session.get(WebhookEvent, webhook_event_id)
    if event is None:
        return False
    status = event.status
    ok = replay(webhook_event_id) if status == EventStatus.DEAD else status == EventStatus.FAILED
    if ok:
        after_commit(lambda: enqueue(webhook_event_id))
        audit(
            "webhooks.replayed",
            actor_id=actor_id,
            target=f"{event.type} {event.event_id}",
            detail=f"was {status} after {event.attempts} attempt(s): {event.last_error}",
        )
    return ok

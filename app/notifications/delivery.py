"""What happened to messages after the provider took them: Brevo's transactional webhook
(delivered, opened, clicked, soft and hard bounces, spam complaints...), stored and turned
into rates per template and per campaign; a hard bounce or a complaint stops further mail.

Brevo does not sign its webhook payloads; a webhook is secured when it is created, with a
bearer token that Brevo then sends in ``Authorization`` (developers.brevo.com, "Secure
webhook calls"). The shop checks that token (``BREVO_WEBHOOK_TOKEN``) in constant time and
refuses everything else. Brevo delivers at least once and may batch events in a list.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.db import upsert, utcnow
from app.extensions import db
from app.notifications.models import Category, DeliveryEvent, Notification, Status, Suppression

log = logging.getLogger(__name__)

# Brevo's transactional event names → the shop's.
EVENTS = {
    "request": "sent",
    "delivered": "delivered",
    "opened": "opened",
    "unique_opened": "opened",
    "proxy_open": "opened",
    "unique_proxy_open": "opened",
    "click": "clicked",
    "soft_bounce": "soft_bounce",
    "hard_bounce": "hard_bounce",
    "invalid_email": "hard_bounce",
    "blocked": "blocked",
    "spam": "complaint",
    "deferred": "deferred",
    "unsubscribed": "unsubscribed",
    "error": "error",
}
MAX_EVENTS = 500  # per request; a batched webhook sends far fewer
ALL = "all"  # a suppression of every category (the address bounced hard)


class BadEvent(ValueError):
    pass


def token_ok(header: str | None) -> bool:
    expected = current_app.config.get("BREVO_WEBHOOK_TOKEN") or ""
    if not expected or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), expected.encode())


def _moment(event: dict[str, Any]) -> datetime:
    for key in ("ts_event", "ts"):
        value = event.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**33:
            return datetime.fromtimestamp(value, UTC)
    raise BadEvent("no timestamp")


def _text(event: dict[str, Any], key: str, limit: int) -> str:
    value = event.get(key)
    return value[:limit] if isinstance(value, str) else ""


def record(payload: Any) -> int:
    """Store the events of one webhook call; returns how many were new."""
    events = payload if isinstance(payload, list) else [payload]
    if not events or len(events) > MAX_EVENTS or not all(isinstance(e, dict) for e in events):
        raise BadEvent("expected an event object or a list of them")
    new = 0
    for event in events:
        raw_name = _text(event, "event", 32)
        name = EVENTS.get(raw_name)
        message_id = _text(event, "message-id", 255)
        if not raw_name or not message_id:
            raise BadEvent("an event needs its name and message-id")
        if name is None:  # one Brevo added later (or an SMS one): never hold up the batch
            log.info("brevo event %r ignored", raw_name[:32])
            continue
        email = _text(event, "email", 320).strip().lower()
        notification_id = _notification_for(message_id, _text(event, "X-Mailin-custom", 100))
        inserted = db.session.execute(
            upsert(DeliveryEvent)
            .values(
                notification_id=notification_id,
                provider="brevo",
                message_id=message_id,
                event=name,
                email=email,
                detail=(_text(event, "reason", 255) or _text(event, "link", 255)),
                occurred_at=_moment(event),
                received_at=utcnow(),
            )
            .on_conflict_do_nothing(
                index_elements=["provider", "message_id", "event", "occurred_at"]
            )
            .returning(DeliveryEvent.id)
        ).first()
        if inserted is None:
            continue
        new += 1
        if name == "hard_bounce" and email:
            suppress(email, ALL, "hard_bounce")
        elif name == "complaint" and email:
            suppress(email, Category.MARKETING, "spam_complaint")
    return new


def _notification_for(message_id: str, custom: str) -> int | None:
    """The outbox row a provider event is about: by the id the shop put in the message
    (``X-Mailin-custom: notification:<id>``), else by the provider's message id."""
    if custom.startswith("notification:") and custom[13:].isdigit() and len(custom) < 30:
        found = db.session.execute(
            sa.select(Notification.id).where(Notification.id == int(custom[13:]))
        ).scalar_one_or_none()
        if found is not None:
            return found
    return db.session.execute(
        sa.select(Notification.id)
        .where(Notification.provider_message_id == message_id)
        .order_by(Notification.id)
        .limit(1)
    ).scalar_one_or_none()


def suppress(address: str, category: str, reason: str) -> None:
    db.session.execute(
        upsert(Suppression)
        .values(address=address, category=category, reason=reason, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["address", "category"])
    )
    log.info("suppressed %s for %s after %s", address[:3] + "…", category, reason)


RATE_EVENTS = ("delivered", "opened", "clicked", "soft_bounce", "hard_bounce", "complaint")


def rates(group: Any, where: Any = None) -> list[dict[str, Any]]:
    """Per value of ``group`` (a Notification column): e-mails sent, and how many of them
    had each provider event at least once, as counts and shares of those sent."""
    where = sa.true() if where is None else where
    sent: dict[Any, int] = dict(
        db.session.execute(
            sa.select(group, sa.func.count())
            .where(Notification.status == Status.SENT, Notification.channel == "email", where)
            .group_by(group)
        ).all()
    )
    counted: dict[Any, dict[str, int]] = {}
    rows = db.session.execute(
        sa.select(group, DeliveryEvent.event, sa.func.count(sa.distinct(Notification.id)))
        .join(DeliveryEvent, DeliveryEvent.notification_id == Notification.id)
        .where(DeliveryEvent.event.in_(RATE_EVENTS), where)
        .group_by(group, DeliveryEvent.event)
    ).all()
    for key, event, n in rows:
        counted.setdefault(key, {})[event] = int(n)
    out = []
    for key in sorted(set(sent) | set(counted), key=lambda k: str(k)):
        total = int(sent.get(key, 0))
        counts = {e: counted.get(key, {}).get(e, 0) for e in RATE_EVENTS}
        shares = {e: (counts[e] / total if total else 0.0) for e in RATE_EVENTS}
        out.append({"key": key, "sent": total, "counts": counts, "shares": shares})
    return out

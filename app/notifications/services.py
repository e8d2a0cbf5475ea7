"""The one way the shop sends anything: ``notify()`` writes a row, a task delivers it.

Delivery is at most once per row: a worker claims a row with a conditional UPDATE before
sending, so two workers (or a duplicate enqueue) cannot both send it. Huey itself is
at-most-once, so ``sweep()`` re-enqueues rows a lost task left behind.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.db import affected, after_commit, upsert, utcnow
from app.extensions import db
from app.notifications import tasks
from app.notifications.channels import DeliveryError, get_backend
from app.notifications.models import (
    Category,
    Channel,
    Notification,
    NotificationPreference,
    Status,
    Suppression,
)
from app.notifications.rendering import TemplateError, render, template_channels

log = logging.getLogger(__name__)
DEAD_LETTER_ALERT_TEMPLATE = "dead-letter-alert"
ALERT_INTERVAL = timedelta(minutes=15)

# What applies when a user has not chosen: transactional email always; everything else opt-in.
DEFAULTS: dict[tuple[str, str], bool] = {  # StrEnum members, so plain strings match
    (Channel.EMAIL, Category.TRANSACTIONAL): True,
    (Channel.EMAIL, Category.MARKETING): False,
    (Channel.SMS, Category.TRANSACTIONAL): False,
    (Channel.SMS, Category.MARKETING): False,
    (Channel.WHATSAPP, Category.TRANSACTIONAL): False,
    (Channel.WHATSAPP, Category.MARKETING): False,
}
LOCKED: set[tuple[str, str]] = {(Channel.EMAIL, Category.TRANSACTIONAL)}  # always on


def notify(
    template: str,
    *,
    to: str,
    user_id: int | None = None,
    channel: str = Channel.EMAIL,
    category: str = Category.TRANSACTIONAL,
    variables: dict[str, Any] | None = None,
    scheduled_for: datetime | None = None,
    consent: str = "",
) -> Notification:
    """Record a notification in the caller's transaction; it is queued once that commits.

    ``consent``: where a person without an account agreed to this kind of message (say,
    "stripe-checkout"); kept with the message, so the check at send time sees it too."""
    if channel not in set(Channel) or category not in set(Category):
        raise ValueError(f"unknown channel/category {channel}/{category}")
    if channel not in template_channels(template):
        raise ValueError(f"template {template!r} has no {channel} version")
    if consent:
        variables = {**(variables or {}), "consent": consent[:64]}
    allowed = is_allowed(to, user_id, channel, category, consent=consent)
    notification = Notification(
        user_id=user_id,
        to_address=to.strip(),
        channel=channel,
        template=template,
        variables=variables or {},
        category=category,
        status=Status.QUEUED if allowed else Status.SUPPRESSED,
        scheduled_for=scheduled_for,
        attempts=0,
        last_error="",
    )
    db.session.add(notification)
    db.session.flush()
    if allowed:
        notification_id = notification.id
        after_commit(lambda: enqueue(notification_id, eta=scheduled_for))
    return notification


def enqueue(notification_id: int, eta: datetime | None = None) -> None:
    if eta is not None and eta > utcnow():
        tasks.deliver_notification.schedule((notification_id,), eta=eta)
    else:
        tasks.deliver_notification(notification_id)


def is_allowed(
    address: str, user_id: int | None, channel: str, category: str, *, consent: str = ""
) -> bool:
    """Staff alerts always go; an address that bounced hard gets nothing else (category
    "all", app/notifications/delivery.py); order and account e-mail cannot be switched off;
    the rest follows the address's unsubscribes and the user's choices."""
    if category == Category.STAFF:
        return True
    suppressed = (
        db.session.execute(
            sa.select(Suppression.category).where(
                Suppression.address == address.strip().lower(),
                Suppression.category.in_([category, "all"]),
            )
        )
        .scalars()
        .all()
    )
    if "all" in suppressed:
        return False
    if (channel, category) in LOCKED:
        return True
    if suppressed:
        return False
    if user_id is None:
        return bool(consent) or DEFAULTS[(channel, category)]
    choice = db.session.execute(
        sa.select(NotificationPreference.enabled).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.channel == channel,
            NotificationPreference.category == category,
        )
    ).scalar_one_or_none()
    return DEFAULTS[(channel, category)] if choice is None else choice


def set_preference(user_id: int, channel: str, category: str, enabled: bool) -> None:
    if (channel, category) in LOCKED and not enabled:
        raise ValueError("Order and account emails cannot be switched off.")
    pref = db.session.execute(
        sa.select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.channel == channel,
            NotificationPreference.category == category,
        )
    ).scalar_one_or_none()
    if pref is None:
        db.session.add(
            NotificationPreference(
                user_id=user_id, channel=channel, category=category, enabled=enabled
            )
        )
    else:
        pref.enabled = enabled
    db.session.flush()


def unsubscribe(address: str, category: str) -> bool:
    """Idempotent opt-out for an address; returns whether anything changed."""
    address = address.strip().lower()
    if category not in {Category.MARKETING}:
        return False
    # One statement: a mail client's one-click POST and the person's own click may race.
    inserted = db.session.execute(
        upsert(Suppression)
        .values(address=address, category=category, reason="unsubscribe", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["address", "category"])
        .returning(Suppression.id)
    ).first()
    return inserted is not None


def claim(notification_id: int) -> bool:
    """Take a row for sending. Only one worker can win, whatever the enqueues were."""
    now = utcnow()
    result = affected(
        sa.update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status.in_([Status.QUEUED, Status.FAILED]),
            sa.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            sa.or_(Notification.scheduled_for.is_(None), Notification.scheduled_for <= now),
        )
        .values(
            status=Status.SENDING,
            claimed_at=now,
            attempts=Notification.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return result == 1


def send_claimed(notification_id: int) -> str:
    """Send a claimed notification and record the outcome; returns the new status. The
    claim was committed first (app/notifications/tasks.py), so a worker that crashes here
    leaves the row in ``sending`` for the sweeper to hand out after NOTIFY_SENDING_TIMEOUT."""
    notification = db.session.get(Notification, notification_id)
    assert notification is not None
    try:
        if not is_allowed(
            notification.to_address,
            notification.user_id,
            notification.channel,
            notification.category,
            consent=str((notification.variables or {}).get("consent") or ""),
        ):
            _finish(notification, Status.SUPPRESSED, "recipient opted out")
            return Status.SUPPRESSED
        message = render(notification)
        backend = get_backend(notification.channel)
        provider_id = backend.send(message)
    except TemplateError as exc:
        _fail(notification, str(exc), transient=False)
    except DeliveryError as exc:
        _fail(notification, str(exc), transient=exc.transient)
    else:
        notification.provider = backend.name
        notification.provider_message_id = provider_id[:255]
        notification.sent_at = utcnow()
        _finish(notification, Status.SENT, "")
    return notification.status


def _finish(notification: Notification, status: str, error: str) -> None:
    notification.status = status
    notification.last_error = error[:500]
    notification.claimed_at = None
    db.session.flush()


def _fail(notification: Notification, error: str, *, transient: bool) -> None:
    cfg = current_app.config
    if transient and notification.attempts < cfg["NOTIFY_MAX_ATTEMPTS"]:
        notification.next_attempt_at = utcnow() + backoff(notification.attempts)
        _finish(notification, Status.FAILED, error)
        log.warning(
            "notification %s failed (attempt %s): %s", notification.id, notification.attempts, error
        )
        retry_id, eta = notification.id, notification.next_attempt_at
        after_commit(lambda: enqueue(retry_id, eta=eta))
        return
    _finish(notification, Status.DEAD, error)
    log.error(
        "notification %s is dead after %s attempts: %s",
        notification.id,
        notification.attempts,
        error,
    )
    alert_staff_about_dead_letters()


def backoff(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: up to base * 2^(attempt-1), capped at 6 hours."""
    base = current_app.config["NOTIFY_BACKOFF_SECONDS"]
    ceiling = min(base * 2 ** max(attempt - 1, 0), 6 * 3600)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


def alert_staff_about_dead_letters() -> None:
    """At most one alert per ALERT_INTERVAL, and never an alert about an alert."""
    recipients = current_app.config["STAFF_ALERT_EMAILS"]
    if not recipients:
        return
    since = utcnow() - ALERT_INTERVAL
    recent = db.session.execute(
        sa.select(sa.func.count()).where(
            Notification.template == DEAD_LETTER_ALERT_TEMPLATE, Notification.created_at >= since
        )
    ).scalar_one()
    if recent:
        return
    dead = db.session.execute(
        sa.select(sa.func.count()).where(Notification.status == Status.DEAD)
    ).scalar_one()
    for address in recipients:
        notify(
            DEAD_LETTER_ALERT_TEMPLATE,
            to=address,
            category=Category.STAFF,
            variables={"dead_count": dead},
        )


def sweep(limit: int = 500) -> int:
    """Hand out again what a lost task or a crashed worker left behind. Returns how many."""
    cfg = current_app.config
    now = utcnow()
    stale = now - timedelta(seconds=cfg["NOTIFY_SENDING_TIMEOUT"])
    orphaned = list(
        db.session.execute(
            sa.update(Notification)
            .where(Notification.status == Status.SENDING, Notification.claimed_at < stale)
            .values(
                status=Status.FAILED,
                next_attempt_at=now,
                claimed_at=None,
                last_error="worker lost while sending",
                updated_at=now,
            )
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    settled = now - timedelta(seconds=60)  # leave fresh rows to their own enqueue
    due = orphaned + list(
        db.session.execute(
            sa.select(Notification.id)
            .where(
                Notification.status.in_([Status.QUEUED, Status.FAILED]),
                sa.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
                sa.or_(Notification.scheduled_for.is_(None), Notification.scheduled_for <= now),
                Notification.updated_at <= settled,
            )
            .order_by(Notification.id)
            .limit(limit)
        ).scalars()
    )
    for notification_id in due:
        after_commit(partial(enqueue, notification_id))
    return len(due)


def retry(notification_ids: Iterable[int]) -> int:
    """Staff retry of dead letters: back to the queue with a fresh attempt count."""
    ids = list(notification_ids)
    if not ids:
        return 0
    now = utcnow()
    result = affected(
        sa.update(Notification)
        .where(Notification.id.in_(ids), Notification.status == Status.DEAD)
        .values(
            status=Status.QUEUED,
            attempts=0,
            next_attempt_at=None,
            last_error="",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    for notification_id in ids:
        after_commit(partial(enqueue, notification_id))
    return result


def list_dead_ids() -> list[int]:
    return list(
        db.session.execute(
            sa.select(Notification.id).where(Notification.status == Status.DEAD)
        ).scalars()
    )


def notify_many(
    template: str,
    recipients: Iterable[tuple[str, int | None]],
    *,
    category: str,
    variables: dict[str, Any] | None = None,
) -> int:
    """Many recipients of one message; preferences apply per recipient (opted-out ones are
    recorded as suppressed). The bulk task calls this once per batch, one batch a transaction."""
    count = 0
    for address, user_id in recipients:
        notify(template, to=address, user_id=user_id, category=category, variables=variables or {})
        count += 1
    return count


def retry_dead(
    notification_ids: Iterable[int], *, actor_id: int | None = None, how: str = "selected"
) -> list[int]:
    """Staff retry from the admin outbox: like ``retry`` but only rows that really were dead
    are queued again (and enqueued after the commit, audited); returns their ids."""
    ids = sorted({int(i) for i in notification_ids})
    if not ids:
        return []
    now = utcnow()
    requeued = sorted(
        db.session.execute(
            sa.update(Notification)
            .where(Notification.id.in_(ids), Notification.status == Status.DEAD)
            .values(
                status=Status.QUEUED,
                attempts=0,
                next_attempt_at=None,
                claimed_at=None,
                last_error="",
                updated_at=now,
            )
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    for notification_id in requeued:
        after_commit(partial(enqueue, notification_id))
    if requeued:
        audit(
            "notifications.retried",
            actor_id=actor_id,
            target=f"{len(requeued)} notification(s)",
            detail=f"{how}: ids=" + ",".join(str(i) for i in requeued),
        )
    return requeued

"""Notification delivery, the sweeper that makes Huey's at-most-once durable, and bulk sends."""

from __future__ import annotations

from huey import crontab

from app.db import unit_of_work
from app.notifications import campaigns, services
from tasks.queue import periodic_job, shop_job


@shop_job(retries=0)
def deliver_notification(notification_id: int) -> str | None:
    return deliver(notification_id)


def deliver(notification_id: int) -> str | None:
    """Claim, send, record the outcome; returns the new status (None: not claimable now).

    The claim commits before the provider is called, so only one worker sends a row
    whatever the enqueues were, and a crash mid-send leaves it for the sweeper."""
    with unit_of_work():
        if not services.claim(notification_id):
            return None
    with unit_of_work():
        return services.send_claimed(notification_id)


@periodic_job(crontab(minute="*"))
def sweep_notifications() -> int:
    with unit_of_work():
        return services.sweep()


@shop_job()
def send_bulk(
    template: str,
    recipients: list[tuple[str, int | None]],
    category: str,
    variables: dict | None = None,
    batch_size: int = 500,
) -> int:
    """A marketing send in batches, each batch committed on its own."""
    sent = 0
    for start in range(0, len(recipients), batch_size):
        with unit_of_work():
            sent += services.notify_many(
                template,
                recipients[start : start + batch_size],
                category=category,
                variables=variables,
            )
    return sent


@shop_job(retries=3, retry_delay=30)
def send_campaign(campaign_id: int) -> int:
    """Write a campaign's outbox rows, a batch per transaction, until everyone has one."""
    written = 0
    while True:
        with unit_of_work():
            batch = campaigns.send_batch(campaign_id)
        written += batch
        if batch < campaigns.BATCH:
            return written


def start_due() -> list[int]:
    """Start scheduled campaigns whose time has come, and resume any a worker left."""
    with unit_of_work():
        due = campaigns.due_campaigns()
    for campaign_id in due:
        send_campaign(campaign_id)
    return due


@periodic_job(crontab(minute="*"))
def start_due_campaigns() -> list[int]:
    return start_due()

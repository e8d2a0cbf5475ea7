"""Stripe webhooks in the background: each stored event is processed by a task (retried by
the sweeper, dead-lettered after WEBHOOK_MAX_ATTEMPTS, replayable by staff)."""

from __future__ import annotations

from huey import crontab

from app.db import unit_of_work
from app.payments import webhooks
from tasks.queue import periodic_job, shop_job


@shop_job(retries=0)
def process_webhook_event(webhook_event_id: int) -> str | None:
    """Not retried by Huey: a failure is recorded on the event, which the sweeper re-drives."""
    return run(webhook_event_id)


def run(webhook_event_id: int) -> str | None:
    """Read the event, fetch what its handler needs from the provider with no transaction
    open, then claim and handle it in one short transaction. Returns its new status."""
    with unit_of_work():
        found = webhooks.claimable(webhook_event_id)
    if found is None:
        return None
    kind, payload = found
    prepare = webhooks.PREPARE.get(kind)
    prepared = prepare(payload) if prepare is not None else None
    with unit_of_work():
        return webhooks.process(webhook_event_id, prepared=prepared)


@periodic_job(crontab(minute="*"))
def sweep_webhooks() -> int:
    """Every minute: events a lost task or a failure left unprocessed are handed out again."""
    with unit_of_work():
        return webhooks.sweep()


@periodic_job(crontab(minute="23"))
def sweep_deleted_customers() -> int:
    """Hourly: the Customers (and saved cards) of deleted accounts that an outage left at the
    provider are deleted after all."""
    from app.payments import customers

    with unit_of_work():
        user_ids = customers.deleted_accounts_with_customers()
    for user_id in user_ids:
        sync_customer(user_id)
    return len(user_ids)


@shop_job(retries=5, retry_delay=60)
def sync_customer(user_id: int) -> bool:
    """An account's new email or name, sent to its Customer at the provider (retried while
    the provider is unavailable; a later change sends the latest details)."""
    from app.payments import customers

    with unit_of_work():
        return customers.sync(user_id)

"""Webhook processing (retried, swept, dead-lettered) and abandoned-checkout clean-up."""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey, shop_task


@shop_task(retries=0)
def process_webhook_event(webhook_event_id: int) -> str | None:
    from app.payments.webhooks import process

    return process(webhook_event_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_payments() -> int:
    from app.db import unit_of_work
    from app.payments.fulfilment import expire_stale_orders
    from app.payments.webhooks import sweep
    from tasks.queue import task_app

    with task_app().app_context():
        with unit_of_work():
            swept = sweep()
        with unit_of_work():
            return swept + expire_stale_orders()

"""Webhook processing (retried, swept, dead-lettered) and abandoned-checkout clean-up."""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey, shop_task


@shop_task(retries=0)
def process_webhook_event(webhook_event_id: int) -> str | None:
    from app.payments.webhooks import process

    return process(webhook_event_id)


@huey.task(retries=0)
def send_refund_task(refund_id: int) -> str | None:
    """Ask the provider for a refund (idempotent: the refund's own key). Not retried by Huey:
    the sweeper below sends unanswered refunds again. ``send_refund`` opens its own short
    units of work, so no transaction is held during the provider call."""
    from app.db import writer
    from app.orders.refund_settlement import send_refund
    from tasks.queue import task_app

    with task_app().app_context(), writer():
        return send_refund(refund_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_payments() -> int:
    from app.db import unit_of_work
    from app.orders.refund_settlement import unsent_refunds
    from app.payments.fulfilment import expire_stale_orders
    from app.payments.webhooks import sweep
    from tasks.queue import task_app

    with task_app().app_context():
        with unit_of_work():
            swept = sweep()
        with unit_of_work():
            expired = expire_stale_orders()
        with unit_of_work():
            refunds = unsent_refunds()
        for refund_id in refunds:
            send_refund_task(refund_id)
        return swept + expired + len(refunds)

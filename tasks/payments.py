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


@huey.task(retries=0)
def settle_checkout_attempt(attempt_id: int) -> str:
    """Find out what became of a Checkout Session request whose answer never came (and
    close the session if its order no longer waits for it). Not retried by Huey: the
    sweeper below settles whatever is still unanswered."""
    from app.checkout.sessions import settle_attempt
    from app.db import writer
    from tasks.queue import task_app

    with task_app().app_context(), writer():
        return settle_attempt(attempt_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_payments() -> int:
    """Every minute: re-drive stored webhooks, settle unanswered session requests, settle
    checkouts whose hold ran out (asking the provider first), re-send unanswered refunds."""
    from app.checkout.completion import release_expired_checkouts
    from app.checkout.sessions import settle_attempt, unresolved_attempts
    from app.db import unit_of_work, writer
    from app.orders.refund_settlement import unsent_refunds
    from app.payments.webhooks import sweep
    from tasks.queue import task_app

    with task_app().app_context(), writer():
        with unit_of_work():
            swept = sweep()
        with unit_of_work():
            unanswered = unresolved_attempts()
        for attempt_id in unanswered:
            settle_attempt(attempt_id)
        released = release_expired_checkouts()
        with unit_of_work():
            refunds = unsent_refunds()
        for refund_id in refunds:
            send_refund_task(refund_id)
        return swept + len(unanswered) + released + len(refunds)

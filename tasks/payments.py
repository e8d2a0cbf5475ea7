"""Payments in the background: webhook processing (retried, swept, dead-lettered), refunds
sent to the provider, unanswered session requests settled, and expired checkouts settled."""

from __future__ import annotations

import logging

from huey import crontab

from tasks.queue import huey

log = logging.getLogger(__name__)


@huey.task(retries=0)
def process_webhook_event(webhook_event_id: int) -> str | None:
    """Not retried by Huey: a failure is recorded on the event, which the sweeper re-drives."""
    from app.db import writer
    from app.payments.webhooks import run
    from tasks.queue import task_app

    with task_app().app_context(), writer():
        return run(webhook_event_id)


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
    checkouts whose hold ran out (asking the provider first), re-send unanswered refunds.
    Each step runs on its own: one that fails is logged and the others still run."""
    from app.checkout.completion import release_expired_checkouts
    from app.checkout.sessions import settle_attempt, unresolved_attempts
    from app.db import unit_of_work, writer
    from app.orders.refund_settlement import unsent_refunds
    from app.payments.webhooks import sweep
    from tasks.queue import task_app

    def swept_webhooks() -> int:
        with unit_of_work():
            return sweep()

    def settled_attempts() -> int:
        with unit_of_work():
            unanswered = unresolved_attempts()
        for attempt_id in unanswered:
            try:
                settle_attempt(attempt_id)
            except Exception:  # one that fails must not keep the others waiting
                log.exception("payments sweep: checkout attempt %s not settled", attempt_id)
        return len(unanswered)

    def resent_refunds() -> int:
        with unit_of_work():
            refunds = unsent_refunds()
        for refund_id in refunds:
            send_refund_task(refund_id)
        return len(refunds)

    done = 0
    with task_app().app_context(), writer():
        for step in (swept_webhooks, settled_attempts, release_expired_checkouts, resent_refunds):
            try:
                done += step()
            except Exception:
                log.exception("payments sweep: %s failed", step.__name__)
    return done

"""Refunds sent to the payment provider, and the sweeper that sends unanswered ones again."""

from __future__ import annotations

import logging

from huey import crontab

from app.db import unit_of_work
from app.orders import refund_settlement
from app.payments import provider
from app.payments.types import PaymentError, PaymentRejected
from tasks.queue import periodic_job, shop_job

log = logging.getLogger(__name__)


@shop_job(retries=0)
def send_refund_task(refund_id: int) -> str | None:
    """Not retried by Huey: the sweeper below sends an unanswered refund again."""
    return send_refund(refund_id)


def send_refund(refund_id: int) -> str | None:
    """Ask the provider for a pending refund (idempotent: the refund's own key); returns the
    refund's status afterwards. No transaction is open during the provider call (SQLite's
    write lock is not held while waiting on the network). A refusal fails the refund; an
    outage leaves it pending for a retry with the same key."""
    with unit_of_work():
        request = refund_settlement.refund_request(refund_id)
        if request is None:
            return refund_settlement.refund_status(refund_id)
    try:
        answer = provider.create_refund(
            payment_intent=request.payment_intent,
            amount=request.amount,
            idempotency_key=request.idempotency_key,
            metadata=request.metadata,
        )
    except PaymentRejected as exc:
        log.warning("refund %s rejected: %s", refund_id, exc.detail or exc)
        with unit_of_work():
            return refund_settlement.record_refusal(refund_id, exc.detail or str(exc))
    except PaymentError as exc:
        log.warning("refund %s not sent, provider unavailable: %s", refund_id, exc.detail or exc)
        with unit_of_work():
            return refund_settlement.record_outage(refund_id)
    with unit_of_work():
        return refund_settlement.record_answer(
            refund_id, provider_id=answer.id, status=answer.status
        )


@periodic_job(crontab(minute="*"))
def sweep_refunds() -> int:
    """Every minute: refunds the provider never answered (an outage, a lost task) are sent
    again with their own key."""
    with unit_of_work():
        refunds = refund_settlement.unsent_refunds()
    for refund_id in refunds:
        send_refund_task(refund_id)
    return len(refunds)

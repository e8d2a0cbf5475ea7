"""Refunds after they are issued (see app/orders/refunds.py): sending them to the provider and
settling them by its answer or its webhook, whichever comes first.

The refund is sent by a background task (app/orders/tasks.py) with no transaction open during
the provider call; an outage leaves the refund pending for the refunds sweeper
(``unsent_refunds``), which sends it again with the same idempotency key. Settling,
confirming and failing are conditional on the refund still being pending, so each happens
once however many answers and events arrive.
Rows are locked in the same order as when issuing: order → payment → refund → variants.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.core.numbers import parse_id
from app.db import affected, utcnow
from app.extensions import db
from app.orders.links import notify_customer
from app.orders.models import Order, OrderLine, OrderStatus, Refund, RefundStatus
from app.orders.states import can_transition, transition
from app.payments.models import REFUNDABLE_PAYMENTS, Payment, PaymentStatus

log = logging.getLogger(__name__)


def unsent_refunds(*, older_than: timedelta = timedelta(minutes=2), limit: int = 100) -> list[int]:
    """Pending refunds the provider has not answered (an outage or a lost task) and that were
    not touched for ``older_than``: each attempt updates the row, so retries back off."""
    cutoff = utcnow() - older_than
    return list(
        db.session.execute(
            sa.select(Refund.id)
            .where(
                Refund.status == RefundStatus.PENDING,
                Refund.provider_refund_id == "",
                Refund.updated_at < cutoff,
            )
            .order_by(Refund.id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class RefundRequest:
    """What the provider is asked for a pending refund, read before the call (no
    transaction is open while the provider answers)."""

    refund_id: int
    payment_intent: str
    amount: int
    idempotency_key: str
    metadata: dict[str, str]


def refund_request(refund_id: int) -> RefundRequest | None:
    """The request for a refund that is still pending and unsent; None otherwise."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.status != RefundStatus.PENDING:
        return None
    return RefundRequest(
        refund_id=refund.id,
        payment_intent=refund.payment.payment_intent,
        amount=refund.amount,
        idempotency_key=refund.idempotency_key,
        metadata={"order_number": refund.order.number, "refund_id": str(refund.id)},
    )


def refund_status(refund_id: int) -> str | None:
    refund = db.session.get(Refund, refund_id)
    return refund.status if refund else None


def record_refusal(refund_id: int, reason: str) -> str | None:
    """The provider refused the refund: it fails (staff see why; the money stays)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        return None
    fail_refund(refund, reason[:255])
    return refund.status


def record_outage(refund_id: int) -> str | None:
    """The provider could not be reached: the refund stays pending and the sweeper sends it
    again with the same key, after a pause (each attempt touches ``updated_at``)."""
    refund = db.session.get(Refund, refund_id)
    if refund is not None and refund.status == RefundStatus.PENDING:
        refund.failure_reason = "The payment provider was unavailable; retrying."
        refund.updated_at = utcnow()
    return refund.status if refund else None


def record_answer(refund_id: int, *, provider_id: str, status: str) -> str | None:
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        return None
    settle(refund, provider_id=provider_id, status=status)
    return refund.status


def settle(refund: Refund, *, provider_id: str, status: str, failure: str = "") -> None:
    if provider_id and not refund.provider_refund_id:
        refund.provider_refund_id = provider_id[:255]
        db.session.flush()
    if status == "succeeded":
        confirm_refund(refund)
    elif status in ("failed", "canceled"):
        fail_refund(refund, failure or f"The provider reports the refund {status}.")


def _lock(model: Any, row_id: int) -> Any:
    """Re-read and lock a row (PostgreSQL). FOR NO KEY UPDATE: inserting a refund that points
    at the row (a foreign-key share lock) is not blocked, or a refund being issued (payment
    claimed, order referenced) and one being confirmed (order, then payment) would deadlock."""
    return db.session.execute(
        sa.select(model)
        .where(model.id == row_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def confirm_refund(refund: Refund) -> bool:
    """The provider refunded it: settle once, move the amount from pending to refunded, tell
    the customer, and mark the order refunded when nothing paid is left."""
    order = _lock(Order, refund.order_id)
    _lock(Payment, refund.payment_id)
    won = affected(
        sa.update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.SUCCEEDED, settled_at=utcnow(), failure_reason="")
        .execution_options(synchronize_session=False)
    )
    if not won:
        return False
    _move_pending(refund.payment_id, refund.amount)
    db.session.refresh(refund)
    _after_money_moved(order)
    if refund.kind != "cancel":
        notify_customer(order, "refund-issued", amount=refund.amount)
    return True


def _move_pending(payment_id: int, amount: int) -> None:
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment_id)
        .values(
            amount_refund_pending=sa.case(
                (Payment.amount_refund_pending >= amount, Payment.amount_refund_pending - amount),
                else_=0,
            ),
            amount_refunded=sa.case(
                (
                    Payment.amount_refunded + amount <= Payment.amount,
                    Payment.amount_refunded + amount,
                ),
                else_=Payment.amount,
            ),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def fail_refund(refund: Refund, reason: str) -> bool:
    """The provider will not refund it: settle once as failed, give back the amount and the
    line quantities it held. Units already put back in stock stay there."""
    _lock(Order, refund.order_id)
    line_ids = sorted(rl.order_line_id for rl in refund.lines)
    if line_ids:
        db.session.execute(
            sa.select(OrderLine.id)
            .where(OrderLine.id.in_(line_ids))
            .with_for_update(key_share=True)
        ).all()
    _lock(Payment, refund.payment_id)
    won = affected(
        sa.update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.FAILED, settled_at=utcnow(), failure_reason=reason[:255])
        .execution_options(synchronize_session=False)
    )
    if not won:
        return False
    db.session.execute(
        sa.update(Payment)
        .where(Payment.id == refund.payment_id)
        .values(
            amount_refund_pending=sa.case(
                (
                    Payment.amount_refund_pending >= refund.amount,
                    Payment.amount_refund_pending - refund.amount,
                ),
                else_=0,
            ),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    for refund_line in refund.lines:
        db.session.execute(
            sa.update(OrderLine)
            .where(
                OrderLine.id == refund_line.order_line_id,
                OrderLine.quantity_refunded >= refund_line.quantity,
            )
            .values(quantity_refunded=OrderLine.quantity_refunded - refund_line.quantity)
            .execution_options(synchronize_session=False)
        )
    from app.returns.models import ReturnRequest, ReturnStatus

    db.session.execute(  # a return refunded by it waits for another refund
        sa.update(ReturnRequest)
        .where(ReturnRequest.refund_id == refund.id)
        .values(status=ReturnStatus.RECEIVED, refund_id=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(refund)
    log.error("refund %s of order %s failed: %s", refund.id, refund.order_id, reason)
    return True


def _after_money_moved(order: Order | None) -> None:
    """Payment statuses follow their refunded amounts; a fully refunded order is REFUNDED."""
    if order is None:
        return
    db.session.refresh(order, ["payments"])
    paid = []
    for payment in order.payments:
        db.session.refresh(payment)
        if payment.status in (*REFUNDABLE_PAYMENTS, PaymentStatus.REFUNDED):
            if payment.amount_refunded >= payment.amount:
                payment.status = PaymentStatus.REFUNDED
            elif payment.amount_refunded > 0:
                payment.status = PaymentStatus.PARTIALLY_REFUNDED
            paid.append(payment)
    db.session.flush()
    if (
        paid
        and all(p.amount_refunded >= p.amount for p in paid)
        and order.status != OrderStatus.RETURNED  # a return refunded stays "returned"
        and can_transition(order, OrderStatus.REFUNDED)
    ):
        transition(order, OrderStatus.REFUNDED, note="refunded in full")


def _find(data: Mapping[str, Any]) -> Refund | None:
    provider_id = str(data.get("id") or "")
    if provider_id:
        found = db.session.execute(
            sa.select(Refund).where(Refund.provider_refund_id == provider_id)
        ).scalar_one_or_none()
        if found is not None:
            return found
    raw = str((data.get("metadata") or {}).get("refund_id") or "")
    refund_id = parse_id(raw)
    if refund_id is None:
        return None
    found = db.session.get(Refund, refund_id)
    intent = data.get("payment_intent")
    if isinstance(intent, Mapping):
        intent = intent.get("id")
    if found is None or found.payment.payment_intent != intent:
        return None  # not this payment's refund: never trust metadata alone
    return found


def record_provider_refund(data: Mapping[str, Any]) -> None:
    """refund.created / refund.updated / refund.failed: settle the refund it is about."""
    refund = _find(data)
    if refund is None:
        return  # made elsewhere (a cancellation, the provider's dashboard): charge.refunded
    settle(
        refund,
        provider_id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        failure=str(data.get("failure_reason") or ""),
    )


def record_provider_total(payment_intent: str, amount_refunded: int) -> None:
    """charge.refunded: the provider's running total for a payment.

    Pending refunds of ours that the new total covers are confirmed (oldest first); what is
    left came from elsewhere (a cancellation, the dashboard) and is recorded as refunded.
    An older total arriving late changes nothing.
    """
    if not payment_intent:
        return
    payment = (
        db.session.execute(sa.select(Payment).where(Payment.payment_intent == payment_intent))
        .scalars()
        .first()
    )
    if payment is None or amount_refunded <= payment.amount_refunded:
        return
    order = _lock(Order, payment.order_id)
    payment = _lock(Payment, payment.id)
    if payment is None or amount_refunded <= payment.amount_refunded:
        return
    pending = (
        db.session.execute(
            sa.select(Refund)
            .where(Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING)
            .order_by(Refund.id)
        )
        .scalars()
        .all()
    )
    for refund in pending:
        if amount_refunded - payment.amount_refunded >= refund.amount:
            confirm_refund(refund)
            db.session.refresh(payment)
    if amount_refunded > payment.amount_refunded:
        elsewhere = min(amount_refunded, payment.amount) - payment.amount_refunded
        payment.amount_refunded = min(amount_refunded, payment.amount)
        db.session.flush()
        if order is not None:
            from app.accounts.audit import audit
            from app.core.templating import money

            audit(
                "orders.refund",
                target=order.number,
                detail=f"{money(elsewhere, payment.currency)} refunded at the payment provider "
                f"(provider) on payment {payment_intent}",
            )
    _after_money_moved(order)

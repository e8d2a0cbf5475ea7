"""Refunds: staff give money back for some order lines or an amount, never more than was paid.

The guards are conditional UPDATEs checked by row count, in the caller's transaction: each
order line's ``quantity_refunded``, then the payment's ``amount_refund_pending``. However many
staff refund at the same moment, on however many app instances, on SQLite or PostgreSQL, the
refunds of a payment can never add up to more than it. Line amounts come from the order lines
(tax included), never from the request.

The provider is asked after the commit, with the refund's own idempotency key, so a retry never
refunds twice. Its answer, or its webhook (``refund.updated``, ``charge.refunded``), settles the
refund, whichever comes first; settling is itself a conditional UPDATE, so it happens once.
A rejected refund is marked failed and gives back what it held.

Rows are locked in one order everywhere: order → order lines → payment → refund → variants.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.catalog.models import StockReason, Variant
from app.catalog.services import adjust_stock
from app.db import after_commit, unit_of_work, utcnow
from app.extensions import db
from app.notifications.services import notify
from app.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Refund,
    RefundLine,
    RefundStatus,
)
from app.orders.states import can_transition, transition

log = logging.getLogger(__name__)

REFUNDABLE_PAYMENTS = ("succeeded", "partially_refunded")
MAX_ID = 2**31 - 1


class RefundError(ValueError):
    """The refund cannot be made; the message tells staff why. ``field`` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def first_name(order: Order) -> str:
    parts = str((order.shipping_address or {}).get("full_name") or "").split()
    return parts[0] if parts else "there"


def refund_payment(order: Order) -> Payment | None:
    """The payment refunds are taken from: the paid one with the most left on it."""
    paid = [p for p in order.payments if p.status in REFUNDABLE_PAYMENTS and p.payment_intent]
    return max(paid, key=lambda p: (p.refundable, p.id), default=None)


def refundable_amount(order: Order) -> int:
    payment = refund_payment(order)
    return payment.refundable if payment is not None else 0


def line_refund_amount(line: OrderLine, already: int, quantity: int) -> int:
    """What ``quantity`` more units of ``line`` are worth after ``already`` were refunded.

    Cumulative rounding: refunding every unit, in any steps, gives back exactly the line.
    """
    gross, sold = line.gross, line.quantity
    return gross * (already + quantity) // sold - gross * already // sold


def _claim_line(line: OrderLine, quantity: int) -> int:
    """Mark ``quantity`` units of the line refunded; returns how many were refunded before."""
    after = db.session.execute(
        sa.update(OrderLine)
        .where(
            OrderLine.id == line.id,
            OrderLine.quantity_refunded + quantity <= OrderLine.quantity,
        )
        .values(quantity_refunded=OrderLine.quantity_refunded + quantity)
        .returning(OrderLine.quantity_refunded)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if after is None:
        done = db.session.execute(
            sa.select(OrderLine.quantity_refunded).where(OrderLine.id == line.id)
        ).scalar_one()
        left = line.quantity - done
        raise RefundError(
            f"Only {left} of {line.product_name} can still be refunded."
            if left
            else f"{line.product_name} has already been refunded in full.",
            field=f"line-{line.id}",
        )
    return after - quantity


def _claim_amount(payment: Payment, amount: int, currency: str) -> None:
    claimed = db.session.execute(
        sa.update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status.in_(REFUNDABLE_PAYMENTS),
            Payment.amount_refund_pending + amount <= Payment.amount - Payment.amount_refunded,
        )
        .values(amount_refund_pending=Payment.amount_refund_pending + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        from app.core.templating import money

        left = db.session.execute(
            sa.select(
                Payment.amount - Payment.amount_refunded - Payment.amount_refund_pending
            ).where(Payment.id == payment.id)
        ).scalar_one()
        raise RefundError(
            f"Only {money(max(left, 0), currency)} can still be refunded on this order.",
            field="amount",
        )


def restock_line(
    order: Order, line: OrderLine, quantity: int, *, actor_id: int | None, note: str
) -> int:
    """Put units of a line back on the shelf, never more than were sold (a conditional UPDATE
    on the line), and only when the sale took them off it. Returns how many went back."""
    if quantity <= 0 or order.stock_committed_at is None or line.variant_id is None:
        return 0
    tracked = db.session.execute(
        sa.select(Variant.track_inventory).where(Variant.id == line.variant_id)
    ).scalar_one_or_none()
    if not tracked:
        return 0
    claimed = db.session.execute(
        sa.update(OrderLine)
        .where(
            OrderLine.id == line.id,
            OrderLine.quantity_restocked + quantity <= OrderLine.quantity,
        )
        .values(quantity_restocked=OrderLine.quantity_restocked + quantity)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return 0
    adjust_stock(
        line.variant_id,
        quantity,
        reason=StockReason.RETURN,
        note=f"{note} {order.number}".strip(),
        actor_id=actor_id,
    )
    return quantity


def issue_refund(
    order: Order,
    *,
    lines: Mapping[int, int] | None = None,
    amount: int | None = None,
    restock: bool = False,
    reason: str = "",
    actor_id: int | None = None,
    kind: str | None = None,
) -> Refund:
    """Refund some units of some lines (their amount computed here) or a plain amount.

    Everything is claimed in the caller's transaction or nothing is; the provider is asked
    after the commit (``send_refund``).
    """
    wanted = {int(k): int(v) for k, v in (lines or {}).items() if v}
    if any(q < 0 for q in wanted.values()):
        raise RefundError("Quantities cannot be negative.")
    if wanted and amount and kind != "cancel":
        raise RefundError("Refund either items or an amount, not both.", field="amount")
    if not wanted and not amount:
        raise RefundError("Choose the items to refund or enter an amount.")
    if amount is not None and amount < 0:
        raise RefundError("Enter an amount above zero.", field="amount")
    payment = refund_payment(order)
    if payment is None:
        raise RefundError("This order has no payment that can be refunded.")
    by_id = {line.id: line for line in order.lines}
    if any(line_id not in by_id for line_id in wanted):
        raise RefundError("That line is not part of this order.")
    restock = restock and bool(wanted)
    savepoint = db.session.begin_nested()
    try:
        claimed: list[tuple[OrderLine, int, int]] = []
        for line_id in sorted(wanted):  # fixed lock order
            line = by_id[line_id]
            before = _claim_line(line, wanted[line_id])
            claimed.append(
                (line, wanted[line_id], line_refund_amount(line, before, wanted[line_id]))
            )
        total = amount if amount else sum(value for _, _, value in claimed)
        if total <= 0:
            raise RefundError("There is nothing to refund for those items.")
        _claim_amount(payment, total, order.currency)
        refund = Refund(
            order=order,
            payment=payment,
            kind=kind or ("lines" if wanted else "amount"),
            amount=total,
            currency=order.currency,
            reason=reason.strip()[:255],
            restock=restock,
            status=RefundStatus.PENDING,
            provider_refund_id="",
            idempotency_key=f"new-{secrets.token_hex(16)}",
            failure_reason="",
            created_by=actor_id,
        )
        for line, quantity, value in claimed:
            refund.lines.append(RefundLine(order_line=line, quantity=quantity, amount=value))
        db.session.add(refund)
        db.session.flush()
        refund.idempotency_key = f"refund-{refund.id}-{order.number}"
        if restock:
            for refund_line in sorted(refund.lines, key=lambda rl: rl.order_line.variant_id or 0):
                refund_line.restocked = restock_line(
                    order,
                    refund_line.order_line,
                    refund_line.quantity,
                    actor_id=actor_id,
                    note="refund",
                )
        db.session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    refund_id = refund.id
    after_commit(lambda: enqueue_send(refund_id))
    return refund


def retry_refund(refund: Refund) -> bool:
    """Ask the provider again for a refund still pending (same idempotency key: never twice)."""
    if refund.status != RefundStatus.PENDING:
        return False
    refund_id = refund.id
    after_commit(lambda: enqueue_send(refund_id))
    return True


def enqueue_send(refund_id: int) -> None:
    """Send the refund from a background task: staff never wait on the provider, and a lost
    task is caught by ``unsent_refunds`` (the sweeper), which sends it again with the same key."""
    from tasks.payments import send_refund_task

    send_refund_task(refund_id)


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


def send_refund(refund_id: int) -> str | None:
    """Ask the provider for a pending refund; returns the refund's status afterwards.

    No transaction is open during the provider call (SQLite's write lock is not held while
    waiting on the network). A refusal fails the refund; an outage leaves it pending for a
    retry with the same key.
    """
    from app.payments import provider
    from app.payments.stripe_gateway import PaymentError, PaymentRejected

    with unit_of_work():
        refund = db.session.get(Refund, refund_id)
        if refund is None or refund.status != RefundStatus.PENDING:
            return refund.status if refund else None
        request = {
            "payment_intent": refund.payment.payment_intent,
            "amount": refund.amount,
            "idempotency_key": refund.idempotency_key,
            "metadata": {"order_number": refund.order.number, "refund_id": str(refund.id)},
        }
    try:
        answer = provider.create_refund(**request)
    except PaymentRejected as exc:
        log.warning("refund %s rejected: %s", refund_id, exc.detail or exc)
        with unit_of_work():
            refund = db.session.get(Refund, refund_id)
            if refund is not None:
                fail_refund(refund, (exc.detail or str(exc))[:255])
            return refund.status if refund else None
    except PaymentError as exc:
        log.warning("refund %s not sent, provider unavailable: %s", refund_id, exc.detail or exc)
        with unit_of_work():
            refund = db.session.get(Refund, refund_id)
            if refund is not None and refund.status == RefundStatus.PENDING:
                refund.failure_reason = "The payment provider was unavailable; retrying."
                refund.updated_at = utcnow()  # the sweeper waits before the next attempt
            return refund.status if refund else None
    with unit_of_work():
        refund = db.session.get(Refund, refund_id)
        if refund is None:
            return None
        settle(refund, provider_id=answer.id, status=answer.status)
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
    won = db.session.execute(
        sa.update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.SUCCEEDED, settled_at=utcnow(), failure_reason="")
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return False
    _move_pending(refund.payment_id, refund.amount)
    db.session.refresh(refund)
    _after_money_moved(order)
    if refund.kind != "cancel":
        from app.payments.fulfilment import order_link

        notify(
            "refund-issued",
            to=order.email,
            user_id=order.user_id,
            variables={
                "name": first_name(order),
                "order_number": order.number,
                "order_url": order_link(order),
                "currency": order.currency,
                "amount": refund.amount,
            },
        )
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
    won = db.session.execute(
        sa.update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
        .values(status=RefundStatus.FAILED, settled_at=utcnow(), failure_reason=reason[:255])
        .execution_options(synchronize_session=False)
    ).rowcount
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
        if payment.status in (*REFUNDABLE_PAYMENTS, "refunded"):
            if payment.amount_refunded >= payment.amount:
                payment.status = "refunded"
            elif payment.amount_refunded > 0:
                payment.status = "partially_refunded"
            paid.append(payment)
    db.session.flush()
    if (
        paid
        and all(p.amount_refunded >= p.amount for p in paid)
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
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        return None
    found = db.session.get(Refund, int(raw))
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
        payment.amount_refunded = min(amount_refunded, payment.amount)
        db.session.flush()
    _after_money_moved(order)

"""Refunds: staff give money back for some order lines or an amount, never more than was paid.

The guards are conditional UPDATEs checked by row count, in the caller's transaction: each
order line's ``quantity_refunded``, then the payment's ``amount_refund_pending``. However many
staff refund at the same moment, on however many app instances, on SQLite or PostgreSQL, the
refunds of a payment can never add up to more than it. Line amounts come from the order lines
(tax included), never from the request.

The provider is asked after the commit, from a task, with the refund's own idempotency key, so
a retry never refunds twice; app/orders/refund_settlement.py sends it and settles it by the
provider's answer or its webhook. A rejected refund is marked failed and gives back what it
held.

Rows are locked in one order everywhere: order → order lines → payment → refund → variants.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from app.catalog.models import StockReason, Variant
from app.core.shop_errors import ShopError
from app.db import affected, after_commit
from app.extensions import db
from app.inventory.services import adjust_stock, sold_for
from app.orders import tasks
from app.orders.models import Order, OrderLine, Refund, RefundLine, RefundStatus
from app.payments.models import REFUNDABLE_PAYMENTS, Payment

log = logging.getLogger(__name__)


class RefundError(ShopError):
    """The refund cannot be made; the message tells staff why. ``field`` names the input."""

    code = "refund-rejected"


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


def _requested(
    order: Order,
    lines: Mapping[int, int] | None,
    amount: int | None,
    *,
    both_allowed: bool = False,
) -> dict[int, int]:
    """The units asked for per line of ``order``, after the rules every refund request
    follows (the preview and the refund itself alike)."""
    wanted = {int(k): int(v) for k, v in (lines or {}).items() if v}
    if any(q < 0 for q in wanted.values()):
        raise RefundError("Quantities cannot be negative.")
    if wanted and amount and not both_allowed:
        raise RefundError("Refund either items or an amount, not both.", field="amount")
    if not wanted and not amount:
        raise RefundError("Choose the items to refund or enter an amount.")
    if amount is not None and amount < 0:
        raise RefundError("Enter an amount above zero.", field="amount")
    line_ids = {line.id for line in order.lines}
    if any(line_id not in line_ids for line_id in wanted):
        raise RefundError("That line is not part of this order.")
    return wanted


@dataclass(frozen=True)
class RefundPreview:
    """What a refund would give back, for staff to confirm before anything is sent."""

    total: int
    currency: str
    lines: list[tuple[OrderLine, int, int]]  # (line, quantity, amount)
    amount_only: bool


def preview_refund(
    order: Order, *, lines: Mapping[int, int] | None = None, amount: int | None = None
) -> RefundPreview:
    """The refund :func:`issue_refund` would make now, computed the same way (per-line
    amounts with cumulative rounding, capped by what the payment has left), writing nothing.
    Raises RefundError for what issue_refund would refuse."""
    from app.core.templating import money

    wanted = _requested(order, lines, amount)
    payment = refund_payment(order)
    if payment is None:
        raise RefundError("This order has no payment that can be refunded.")
    by_id = {line.id: line for line in order.lines}
    chosen = []
    for line_id in sorted(wanted):
        line = by_id[line_id]
        if line.quantity_refunded + wanted[line_id] > line.quantity:
            raise RefundError(
                f"At most {line.quantity - line.quantity_refunded} can be refunded.",
                field=f"line-{line_id}",
            )
        value = line_refund_amount(line, line.quantity_refunded, wanted[line_id])
        chosen.append((line, wanted[line_id], value))
    total = amount if amount else sum(value for _, _, value in chosen)
    left = payment.amount - payment.amount_refunded - payment.amount_refund_pending
    if total <= 0:
        raise RefundError("There is nothing to refund for those items.")
    if total > left:
        raise RefundError(
            f"Only {money(max(left, 0), order.currency)} can still be refunded on this order.",
            field="amount",
        )
    return RefundPreview(total, order.currency, chosen, amount_only=not wanted)


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
    claimed = affected(
        sa.update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status.in_(REFUNDABLE_PAYMENTS),
            Payment.amount_refund_pending + amount <= Payment.amount - Payment.amount_refunded,
        )
        .values(amount_refund_pending=Payment.amount_refund_pending + amount)
        .execution_options(synchronize_session=False)
    )
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
    """Put units of a line back on the shelf of a tracked variant, never more than the sale
    took off it by the stock ledger (a conditional UPDATE on the line). Returns how many went
    back."""
    if quantity <= 0 or order.stock_committed_at is None or line.variant_id is None:
        return 0
    tracked = db.session.execute(
        sa.select(Variant.track_inventory).where(Variant.id == line.variant_id)
    ).scalar_one_or_none()
    taken = sold_for(order.number, line.variant_id) if tracked else 0
    if not taken:
        # Sold while its stock was not tracked (nothing left the shelf), or not tracked now
        # (no count to put back into; older ledgers also wrote sale lines for such variants).
        return 0
    claimed = affected(
        sa.update(OrderLine)
        .where(
            OrderLine.id == line.id,
            # A line's quantity never changes; the sale may have taken fewer off the shelf.
            OrderLine.quantity_restocked + quantity <= min(line.quantity, taken),
        )
        .values(quantity_restocked=OrderLine.quantity_restocked + quantity)
        .execution_options(synchronize_session=False)
    )
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
    payment: Payment | None = None,
    source: str = "staff",
) -> Refund:
    """Refund some units of some lines (their amount computed here) or a plain amount.

    Everything is claimed in the caller's transaction or nothing is; the provider is asked
    after the commit (``send_refund``). ``payment``: the one to refund (default: the paid
    one with the most left). Every refund is audited, with who asked for it (``source``:
    staff, customer, or automatic when the shop gives back a payment it cannot keep).
    """
    wanted = _requested(order, lines, amount, both_allowed=kind == "cancel")
    payment = payment or refund_payment(order)
    if payment is None:
        raise RefundError("This order has no payment that can be refunded.")
    from app.payments.disputes import refund_blocked

    blocked = refund_blocked(order)
    if blocked:
        raise RefundError(blocked)
    by_id = {line.id: line for line in order.lines}
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
            from app.inventory.services import lock_stock

            lock_stock(rl.order_line.variant_id for rl in refund.lines)  # as checkout does
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
    _audit_refund(order, refund, actor_id=actor_id, source=source)
    refund_id = refund.id
    after_commit(lambda: enqueue_send(refund_id))
    return refund


def _audit_refund(order: Order, refund: Refund, *, actor_id: int | None, source: str) -> None:
    from app.accounts.audit import audit
    from app.core.templating import money

    audit(
        "orders.refund",
        actor_id=actor_id,
        target=order.number,
        detail=(
            f"refund {refund.id}: {money(refund.amount, refund.currency)} ({source})"
            + "".join(f"; line {rl.order_line_id} x{rl.quantity}" for rl in refund.lines)
            + ("; restocked" if refund.restock else "")
            + (f"; {refund.reason}" if refund.reason else "")
        ),
    )


def retry_refund(refund: Refund, *, actor_id: int | None = None) -> bool:
    """Ask the provider again for a refund still pending (same idempotency key: never twice)."""
    from app.accounts.audit import audit

    if refund.status != RefundStatus.PENDING:
        return False
    refund_id = refund.id
    after_commit(lambda: enqueue_send(refund_id))
    audit(
        "orders.refund_retry",
        actor_id=actor_id,
        target=refund.order.number,
        detail=f"refund {refund.id}",
    )
    return True


def enqueue_send(refund_id: int) -> None:
    """Send the refund from a background task: staff never wait on the provider, and a lost
    task is caught by the sweeper (``refund_settlement.unsent_refunds``), which sends it
    again with the same key."""
    tasks.send_refund_task(refund_id)

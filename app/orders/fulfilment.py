"""Staff fulfilment verbs: start processing, ship, deliver, cancel, and append-only notes.

Every status change goes through the state machine (``states.transition``) on the order row
locked first, so two staff members clicking at once cannot ship twice or send two emails;
each one sends the customer its email through ``notify()`` (queued after the commit).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.accounts.audit import audit
from app.core.shop_errors import ShopError
from app.db import utcnow
from app.extensions import db
from app.orders.links import notify_customer, order_link
from app.orders.models import CancelReason, Order, OrderEvent, OrderNote, OrderStatus, Refund
from app.orders.refunds import issue_refund, refund_payment, restock_line
from app.orders.states import LABELS, UNPAID, InvalidTransition, can_transition, transition

NOTE_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FulfilmentError(ShopError):
    """The change cannot be made; the message tells staff why. ``field`` names the input."""

    code = "fulfilment-rejected"


def lock_order(order_id: int) -> Order | None:
    """The order, re-read and locked for this transaction (PostgreSQL; SQLite form posts hold
    the database's write lock from their first statement)."""
    return db.session.execute(_lock_statement(), {"order_id": order_id}).scalar_one_or_none()


def lock_order_status(order_id: int) -> str | None:
    """:func:`lock_order` for a caller that needs only the order's status (no Order object
    to build: a press of Pay, after its session is made)."""
    return db.session.execute(_lock_status_statement(), {"order_id": order_id}).scalar()


@functools.cache
def _lock_status_statement() -> sa.Select[str]:
    """:func:`lock_order_status`'s query, built once per process."""
    return (
        sa.select(Order.status)
        .where(Order.id == sa.bindparam("order_id", type_=sa.Integer))
        .with_for_update(key_share=True)
    )


@functools.cache
def _lock_statement() -> sa.Select[Order]:
    """:func:`lock_order`'s query, built once per process (the id bound at each run)."""
    return (
        sa.select(Order)
        .where(Order.id == sa.bindparam("order_id", type_=sa.Integer))
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def _move(order: Order, to: str, *, actor_id: int | None, note: str = "") -> None:
    if not can_transition(order, to):
        raise InvalidTransition(order, to)
    transition(order, to, actor_id=actor_id, note=note)


def start_processing(order: Order, *, actor_id: int | None) -> None:
    _move(order, OrderStatus.PROCESSING, actor_id=actor_id, note="processing started")
    audit("orders.process", actor_id=actor_id, target=order.number)


def clean_text(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", value or "").strip()[:limit]


def validate_tracking_url(value: str) -> str:
    """An https link to the carrier's tracking page, or empty."""
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if (
        len(value) > 500
        or parts.scheme != "https"
        or not parts.hostname
        or "." not in parts.hostname
        or any(c.isspace() or ord(c) < 32 for c in value)
        or parts.username
        or parts.password
    ):
        raise FulfilmentError(
            "Enter the tracking link as a full https:// address, "
            "e.g. https://www.dhl.com/track?id=123.",
            field="tracking_url",
        )
    return value


def mark_shipped(
    order: Order,
    *,
    carrier: str,
    tracking_number: str,
    tracking_url: str = "",
    actor_id: int | None,
) -> None:
    """Shipped with a carrier and tracking number: the customer gets the "shipped" email."""
    carrier = clean_text(carrier, 64)
    tracking_number = clean_text(tracking_number, 64)
    if not carrier:
        raise FulfilmentError("Enter the carrier, e.g. DHL.", field="carrier")
    if not tracking_number:
        raise FulfilmentError("Enter the tracking number.", field="tracking_number")
    tracking_url = validate_tracking_url(tracking_url)
    _move(
        order,
        OrderStatus.SHIPPED,
        actor_id=actor_id,
        note=f"shipped with {carrier}, tracking {tracking_number}",
    )
    order.carrier, order.tracking_number, order.tracking_url = (
        carrier,
        tracking_number,
        tracking_url,
    )
    order.shipped_at = utcnow()
    db.session.flush()
    notify_customer(
        order,
        "order-shipped",
        carrier=carrier,
        tracking_number=tracking_number,
        # The email always offers a link; without the carrier's, the order page shows it.
        tracking_url=tracking_url or order_link(order),
    )
    audit(
        "orders.ship",
        actor_id=actor_id,
        target=order.number,
        detail=f"{order.carrier} {order.tracking_number}",
    )


def mark_delivered(order: Order, *, actor_id: int | None) -> None:
    _move(order, OrderStatus.DELIVERED, actor_id=actor_id, note="delivered")
    order.delivered_at = utcnow()
    db.session.flush()
    notify_customer(order, "order-delivered")
    audit("orders.deliver", actor_id=actor_id, target=order.number)


def add_note(order: Order, *, body: str, author_id: int | None, author_email: str) -> OrderNote:
    text = (body or "").replace("\r\n", "\n").strip()
    if not text:
        raise FulfilmentError("Write the note first.", field="body")
    if len(text) > NOTE_MAX:
        raise FulfilmentError(f"Keep notes under {NOTE_MAX} characters.", field="body")
    note = OrderNote(
        order=order,
        author_id=author_id,
        author_email=author_email[:320],
        body=text,
        created_at=utcnow(),
    )
    db.session.add(note)
    db.session.flush()
    audit("orders.note", actor_id=author_id, target=order.number, detail=f"note {note.id}")
    return note


def can_cancel(order: Order) -> bool:
    return can_transition(order, OrderStatus.CANCELLED)


def cancel_order(
    order: Order,
    *,
    actor_id: int | None,
    reason: str = "",
    by: CancelReason = CancelReason.STAFF,
) -> int:
    """Cancel before shipping. Unpaid: the reservation is released and the checkout closed.
    Paid: every unit not yet back on the shelf goes back, and what is left of the payment is
    refunded (a Refund like any other, so it can never overlap one staff issued). Returns
    the amount refunded. Staff cancellations are audited here; a customer's by
    :func:`app.orders.customer.cancel_by_customer`."""
    from app.core.templating import money

    refunded = _cancel(order, actor_id=actor_id, reason=reason, by=by)
    if by == CancelReason.STAFF:
        said = clean_text(reason, 200)
        audit(
            "orders.cancel",
            actor_id=actor_id,
            target=order.number,
            detail=(
                f"refund {money(refunded, order.currency)}" if refunded else "nothing to refund"
            )
            + (f"; {said}" if said else ""),
        )
    return refunded


def _cancel(order: Order, *, actor_id: int | None, reason: str, by: CancelReason) -> int:
    from app.checkout.sessions import close_checkout
    from app.inventory.services import lock_stock
    from app.orders.services import cancel_unpaid

    note = clean_text(reason, 200) or "cancelled by staff"
    lock_order(order.id)  # re-read: a cancellation racing this one finds it cancelled
    if not can_cancel(order):
        raise InvalidTransition(order, OrderStatus.CANCELLED)
    if order.status in UNPAID:
        close_checkout(order)
        cancel_unpaid(order, note=note, reason=by, actor_id=actor_id)
        return 0
    transition(order, OrderStatus.CANCELLED, actor_id=actor_id, note=note)
    order.cancel_reason = by
    lock_stock(line.variant_id for line in order.lines)  # all of them first, as checkout does
    for line in sorted(order.lines, key=lambda ln: ln.variant_id or 0):
        db.session.refresh(line)
        restock_line(
            order,
            line,
            line.quantity - line.quantity_restocked,
            actor_id=actor_id,
            note="order cancelled",
        )
    refunded = 0
    payment = refund_payment(order)
    if payment is not None:
        db.session.refresh(payment)
    if payment is not None and payment.refundable > 0:
        for line in order.lines:
            db.session.refresh(line)
        refund = issue_refund(
            order,
            lines={ln.id: ln.quantity - ln.quantity_refunded for ln in order.lines},
            amount=payment.refundable,
            reason=note,
            actor_id=actor_id,
            kind="cancel",
            source="customer" if by == CancelReason.CUSTOMER else "staff",
        )
        refunded = refund.amount
    notify_customer(order, "order-cancelled", refund_total=refunded)
    return refunded


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "status", "note", "refund"
    title: str
    detail: str = ""
    actor: str = ""
    body: str = ""


def timeline(order: Order) -> list[TimelineEntry]:
    """Status changes, staff notes and refunds of an order, oldest first."""
    from app.accounts.models import User

    events: list[OrderEvent] = list(order.events)
    refunds: list[Refund] = list(order.refunds)
    actor_ids = {e.actor_id for e in events if e.actor_id} | {
        r.created_by for r in refunds if r.created_by
    }
    emails: dict[int, str] = {}
    if actor_ids:
        emails = dict(
            db.session.execute(sa.select(User.id, User.email).where(User.id.in_(actor_ids))).all()
        )
    entries: list[TimelineEntry] = []
    for event in events:
        title = LABELS.get(event.to_status, event.to_status)
        if event.from_status:
            title = f"{LABELS.get(event.from_status, event.from_status)} → {title}"
        else:
            title = f"Order placed: {title}"
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="status",
                title=title,
                detail=event.note,
                actor=emails.get(event.actor_id or 0, ""),
            )
        )
    for note in order.notes:
        entries.append(
            TimelineEntry(
                at=note.created_at,
                kind="note",
                title="Staff note",
                actor=note.author_email,
                body=note.body,
            )
        )
    for refund in refunds:
        entries.append(
            TimelineEntry(
                at=refund.created_at,
                kind="refund",
                title=f"Refund requested ({refund.kind})",
                detail=_refund_detail(refund),
                actor=emails.get(refund.created_by or 0, ""),
            )
        )
        if refund.settled_at is not None:
            entries.append(
                TimelineEntry(
                    at=refund.settled_at,
                    kind="refund",
                    title=f"Refund {refund.status}",
                    detail=refund.failure_reason,
                )
            )
    entries.sort(key=lambda e: e.at)
    return entries


def _refund_detail(refund: Refund) -> str:
    from app.core.templating import money

    parts: list[Any] = [money(refund.amount, refund.currency)]
    for line in refund.lines:
        parts.append(f"{line.quantity} × {line.order_line.product_name}")
    if refund.reason:
        parts.append(f"reason: {refund.reason}")
    return "; ".join(str(p) for p in parts)

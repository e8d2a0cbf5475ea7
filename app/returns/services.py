"""Returns for both doors (the customer's order page, the API, Admin → Returns).

The rules, once: an order can be returned while it is ``delivered`` and within
``RETURN_WINDOW_DAYS`` of delivery; a line can be returned up to what was bought, less what
was refunded and what other returns (not refused) already cover. Every step writes the
order's timeline, an audit event and an e-mail to the customer. Receiving restocks the units
staff mark resellable through the refund path's ``restock_line`` (the stock ledger says how
many the sale took); refunding goes through ``issue_refund``, so amounts (the lines' share
of any discount included), the provider call and its settlement are the refunds' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.core.shop_errors import ShopError
from app.db import utcnow
from app.extensions import db
from app.inventory.services import lock_stock
from app.orders.fulfilment import lock_order
from app.orders.links import notify_customer
from app.orders.models import Order, OrderEvent, OrderStatus
from app.orders.refunds import RefundError, issue_refund, restock_line
from app.orders.states import can_transition, transition
from app.returns.models import (
    OPEN,
    REASON_LABELS,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)

COMMENT_MAX = 1000
MESSAGE_MAX = 1000


class ReturnError(ShopError):
    code = "return-refused"
    status = 409


def window_end(order: Order) -> datetime | None:
    if order.delivered_at is None:
        return None
    return order.delivered_at + timedelta(days=current_app.config["RETURN_WINDOW_DAYS"])


def why_not(order: Order) -> str:
    """Why this order cannot be returned now ("" when it can)."""
    end = window_end(order)
    if order.status != OrderStatus.DELIVERED or end is None:
        return "Items can be returned once the order has been delivered."
    if utcnow() > end:
        days = current_app.config["RETURN_WINDOW_DAYS"]
        return f"The {days}-day return window for this order has closed."
    return ""


def requests_of(order: Order) -> list[ReturnRequest]:
    return list(
        db.session.execute(
            sa.select(ReturnRequest)
            .where(ReturnRequest.order_id == order.id)
            .order_by(ReturnRequest.id)
        ).scalars()
    )


def returnable(order: Order) -> dict[int, int]:
    """Units each line of ``order`` can still be returned (lines with none are left out)."""
    if why_not(order):
        return {}
    covered: dict[int, int] = {}  # units open returns hold (refunded ones are in the lines)
    for request in requests_of(order):
        if request.status in (ReturnStatus.REFUSED, ReturnStatus.REFUNDED):
            continue
        for line in request.lines:
            held = line.received if request.status == ReturnStatus.RECEIVED else line.quantity
            covered[line.order_line_id] = covered.get(line.order_line_id, 0) + held
    left = {
        line.id: line.quantity - line.quantity_refunded - covered.get(line.id, 0)
        for line in order.lines
    }
    return {line_id: n for line_id, n in left.items() if n > 0}


def _plain(text: str | None, limit: int, field: str) -> str:
    value = (
        " ".join((text or "").replace("\x00", "").split())
        if field == "reason"
        else ((text or "").replace("\r\n", "\n").replace("\x00", "").strip())
    )
    if len(value) > limit:
        raise ReturnError(f"Keep it to {limit:,} characters.", field=field)
    return value


def _timeline(order: Order, note: str, actor_id: int | None) -> None:
    db.session.add(
        OrderEvent(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor_id=actor_id,
            note=note[:500],
            created_at=utcnow(),
        )
    )


def _what(request: ReturnRequest) -> str:
    return ", ".join(f"{line.quantity} × {line.order_line.product_name}" for line in request.lines)


def _email(request: ReturnRequest, template: str) -> None:
    notify_customer(
        request.order,
        template,
        return_number=request.number,
        items=[
            {"name": line.order_line.product_name, "quantity": line.quantity}
            for line in request.lines
        ],
        message=request.staff_message,
    )


def request_return(
    order: Order,
    lines: Mapping[int, int],
    *,
    reason: str,
    comment: str = "",
    actor_id: int | None = None,
) -> ReturnRequest:
    """The customer asks to return ``lines`` ({order line id: units}) of ``order``."""
    locked = lock_order(order.id)
    assert locked is not None
    problem = why_not(locked)
    if problem:
        raise ReturnError(problem, code="return-not-allowed")
    if reason not in set(ReturnReason):
        raise ReturnError("Tell us why you are returning it.", field="reason")
    wanted = {int(k): int(v) for k, v in lines.items() if int(v) != 0}
    if not wanted:
        raise ReturnError("Choose how many of which items you are returning.", field="lines")
    left = returnable(locked)
    for line_id, quantity in wanted.items():
        if quantity < 0 or quantity > left.get(line_id, 0):
            raise ReturnError(
                "You can return at most what you bought and have not returned yet.",
                field="lines",
            )
    count = len(requests_of(locked))
    request = ReturnRequest(
        number=f"{locked.number}-R{count + 1}",
        order_id=locked.id,
        status=ReturnStatus.REQUESTED,
        reason=reason,
        comment=_plain(comment, COMMENT_MAX, "comment"),
        staff_message="",
    )
    for line_id, quantity in sorted(wanted.items()):
        request.lines.append(
            ReturnLine(order_line_id=line_id, quantity=quantity, received=0, restocked=0)
        )
    db.session.add(request)
    db.session.flush()
    _timeline(locked, f"return {request.number} requested: {_what(request)}", actor_id)
    audit(
        "return.requested",
        actor_id=actor_id,
        target=request.number,
        detail=REASON_LABELS[ReturnReason(reason)],
    )
    _email(request, "return-requested")
    return request


def _locked(request: ReturnRequest) -> ReturnRequest:
    lock_order(request.order_id)  # the order's lock orders every step of its returns
    db.session.refresh(request)
    return request


def decide(request: ReturnRequest, approve: bool, *, message: str, actor_id: int | None) -> None:
    request = _locked(request)
    if request.status != ReturnStatus.REQUESTED:
        raise ReturnError(f"This return is {request.status} already.", code="return-state")
    request.staff_message = _plain(message, MESSAGE_MAX, "message")
    if not approve and not request.staff_message:
        raise ReturnError("Tell the customer why, in a sentence or two.", field="message")
    request.status = ReturnStatus.APPROVED if approve else ReturnStatus.REFUSED
    request.decided_at, request.decided_by = utcnow(), actor_id
    word = "approved" if approve else "refused"
    _timeline(request.order, f"return {request.number} {word}", actor_id)
    audit(
        f"return.{word}",
        actor_id=actor_id,
        target=request.number,
        detail=request.staff_message[:200],
    )
    _email(request, f"return-{word}")


def receive(
    request: ReturnRequest, received: Mapping[int, tuple[int, bool]], *, actor_id: int | None
) -> int:
    """The goods arrived: ``received`` is {return line id: (units, resellable)}. Resellable
    units go back in stock; returns how many did. A return that covers every unit the order
    had leaves the order ``returned``."""
    request = _locked(request)
    if request.status != ReturnStatus.APPROVED:
        raise ReturnError("Only an approved return can be received.", code="return-state")
    restocked = 0
    any_received = False
    # Restocking updates variants then products: take them in the shop's lock order first.
    lock_stock([line.order_line.variant_id for line in request.lines])
    for line in request.lines:
        units, resellable = received.get(line.id, (0, False))
        if units < 0 or units > line.quantity:
            raise ReturnError(
                "Receive at most the units the customer is returning.", field="received"
            )
        line.received = units
        any_received = any_received or units > 0
        if resellable and units:
            line.restocked = restock_line(
                request.order,
                line.order_line,
                units,
                actor_id=actor_id,
                note=f"return {request.number}",
            )
            restocked += line.restocked
    if not any_received:
        raise ReturnError("Enter how many units arrived.", field="received")
    request.status, request.received_at = ReturnStatus.RECEIVED, utcnow()
    order = request.order
    _timeline(order, f"return {request.number} received ({restocked} back in stock)", actor_id)
    audit(
        "return.received", actor_id=actor_id, target=request.number, detail=f"{restocked} restocked"
    )
    if _fully_returned(order) and can_transition(order, OrderStatus.RETURNED):
        transition(order, OrderStatus.RETURNED, actor_id=actor_id, note=f"return {request.number}")
    _email(request, "return-received")
    return restocked


def _fully_returned(order: Order) -> bool:
    got: dict[int, int] = {}
    for request in requests_of(order):
        for line in request.lines:
            got[line.order_line_id] = got.get(line.order_line_id, 0) + line.received
    return all(got.get(line.id, 0) >= line.quantity for line in order.lines)


def refund(request: ReturnRequest, *, actor_id: int | None) -> int:
    """Refund what arrived through the refund path (its amounts, its provider call); returns
    the amount."""
    request = _locked(request)
    if request.status != ReturnStatus.RECEIVED:
        raise ReturnError("Receive the goods before refunding them.", code="return-state")
    lines = {line.order_line_id: line.received for line in request.lines if line.received}
    try:
        made = issue_refund(
            request.order,
            lines=lines,
            restock=False,  # resellable units went back when they arrived
            reason=f"Return {request.number}",
            actor_id=actor_id,
        )
    except RefundError as exc:
        raise ReturnError(str(exc), code="return-refund-refused") from exc
    request.refund_id, request.status = made.id, ReturnStatus.REFUNDED
    _timeline(request.order, f"return {request.number} refunded", actor_id)
    audit("return.refunded", actor_id=actor_id, target=request.number, detail=str(made.amount))
    return made.amount


def open_count() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).where(ReturnRequest.status.in_(OPEN))
    ).scalar_one()

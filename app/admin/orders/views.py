"""Orders: list with filters, detail with lines, payments, refunds and a timeline. Actions
(fulfilment, notes, cancel, refunds) are in actions.py, PDFs in documents.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template, request
from sqlalchemy.orm import selectinload

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, render_listing, str_arg
from app.admin.orders.forms import CancelForm, NoteForm, RefundForm, ShipForm, parse_money
from app.extensions import db, htmx
from app.orders.fulfilment import can_cancel, timeline
from app.orders.models import Order, OrderStatus, Refund
from app.orders.refunds import refund_payment
from app.orders.states import LABELS, PAID_STATES, can_transition
from app.payments.disputes import (
    DISPUTE_FILTER_LABELS,
    DISPUTE_FILTERS,
    dashboard_url,
    open_disputes,
    reason_label,
    refund_blocked,
)
from app.payments.disputes import status_label as dispute_status_label

INVALID = 422


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _date_arg(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None or not 2000 <= value.year <= 2999:
        errors[name] = "Enter a date like 2026-11-25."
        return None
    return value


def _money_arg(name: str, errors: dict[str, str]) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_money(raw, current_app.config.get("SHOP_CURRENCY", "EUR"))
    except ValueError:
        errors[name] = "Enter an amount like 25 or 12.50."
        return None


@bp.get("/orders")
@permission_required("orders.view")
def orders() -> Any:
    errors: dict[str, str] = {}
    status = str_arg("status", choices=list(OrderStatus))
    disputed = str_arg("dispute", choices=list(DISPUTE_FILTERS))
    q = str_arg("q", limit=120)
    start, end = _date_arg("from", errors), _date_arg("to", errors)
    low, high = _money_arg("min", errors), _money_arg("max", errors)
    if start and end and end < start and not errors:
        errors["to"] = "The end date is before the start date."
    if low is not None and high is not None and high < low and not errors:
        errors["max"] = "The largest total is below the smallest."

    stmt = sa.select(Order)
    if status:
        stmt = stmt.where(Order.status == status)
    if disputed:
        stmt = stmt.where(DISPUTE_FILTERS[disputed])
    if q:
        pattern = like_pattern(q.lower())
        stmt = stmt.where(
            sa.or_(
                Order.email.ilike(pattern, escape="\\"),
                Order.number.ilike(like_pattern(q.upper()), escape="\\"),
            )
        )
    if not errors:
        if start:
            stmt = stmt.where(Order.created_at >= datetime.combine(start, time.min, UTC))
        if end:
            stmt = stmt.where(
                Order.created_at < datetime.combine(end + timedelta(days=1), time.min, UTC)
            )
        if low is not None:
            stmt = stmt.where(Order.total >= low)
        if high is not None:
            stmt = stmt.where(Order.total <= high)
    page = paginate(
        stmt,
        sorts={"created": Order.created_at, "total": Order.total, "status": Order.status},
        default="-created",
        tiebreak=Order.id,
    )
    context = {
        "page": page,
        "status": status,
        "dispute": disputed,
        "dispute_labels": DISPUTE_FILTER_LABELS,
        "open_disputes": open_disputes([order.id for order in page.items]),
        "q": q,
        "filters": {k: request.args.get(k, "").strip()[:20] for k in ("from", "to", "min", "max")},
        "errors": errors,
        "labels": LABELS,
        "statuses": list(OrderStatus),
    }
    body = render_listing("admin/orders/list.html", "admin/orders/_table.html", **context)
    # Without JavaScript the page re-renders with the errors as a 400; htmx only swaps 2xx.
    return body, (400 if errors and not htmx else 200)


def detail_context(order: Order, **forms: Any) -> dict[str, Any]:
    """Everything the order page shows; ``forms`` replaces a form to show its errors."""
    payment = refund_payment(order)
    refundable = payment.refundable if payment is not None else 0
    blocked = refund_blocked(order)
    refunds = (
        db.session.execute(
            sa.select(Refund)
            .where(Refund.order_id == order.id)
            .order_by(Refund.id)
            .options(selectinload(Refund.lines))
        )
        .scalars()
        .all()
    )
    context: dict[str, Any] = {
        "order": order,
        "labels": LABELS,
        "disputes": order.disputes,
        "dispute_status": dispute_status_label,
        "dispute_reason": reason_label,
        "dispute_dashboard_url": dashboard_url,
        "timeline": timeline(order),
        "refunds": refunds,
        "refundable": refundable,
        "can_process": can_transition(order, OrderStatus.PROCESSING),
        "can_ship": can_transition(order, OrderStatus.SHIPPED),
        "can_deliver": can_transition(order, OrderStatus.DELIVERED),
        "can_cancel": can_cancel(order),
        "can_refund": refundable > 0 and not blocked,
        "refund_blocked": blocked if refundable > 0 else "",
        "has_documents": order.status in PAID_STATES or order.paid_at is not None,
        "ship_form": ShipForm(formdata=None),
        "note_form": NoteForm(formdata=None),
        "cancel_form": CancelForm(formdata=None),
        "refund_form": RefundForm(formdata=None),
        "refund_quantities": {},
        "refund_errors": {},
        "action_error": "",
    }
    context.update(forms)
    return context


def render_detail(order: Order, status: int = 200, **forms: Any) -> tuple[str, int]:
    return render_template("admin/orders/detail.html", **detail_context(order, **forms)), status


@bp.get("/orders/<int:order_id>")
@permission_required("orders.view")
def orders_detail(order_id: int) -> Any:
    order = db.get_or_404(Order, order_id)
    return render_detail(order)

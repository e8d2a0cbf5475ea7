"""Staff actions on one order: start processing, ship, deliver, notes, cancel, refunds.

Each is a plain form post that redirects back to the order (POST/redirect/GET). Bad input
re-renders the order page with the errors (422); a change the order's state no longer allows
re-renders it with the reason (409). Both roll the request back. Every change is audited.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.permissions import has_permission, permission_required
from app.admin import bp
from app.admin.orders.forms import CancelForm, NoteForm, RefundForm, ShipForm, parse_money
from app.admin.orders.views import INVALID, render_detail
from app.core.numbers import parse_int
from app.core.shop_errors import show_on_form
from app.core.templating import money
from app.extensions import db
from app.orders.fulfilment import (
    FulfilmentError,
    add_note,
    cancel_order,
    lock_order,
    mark_delivered,
    mark_shipped,
    start_processing,
)
from app.orders.models import Order, Refund
from app.orders.refunds import (
    RefundError,
    issue_refund,
    preview_refund,
    refundable_amount,
    retry_refund,
)
from app.orders.states import InvalidTransition

CONFLICT = 409
MAX_QUANTITY = 1_000_000


def _locked(order_id: int) -> Order:
    db.get_or_404(Order, order_id)
    order = lock_order(order_id)
    assert order is not None
    return order


def _back(order: Order) -> Response:
    return redirect(url_for("admin.orders_detail", order_id=order.id), code=303)


def _me() -> int:
    return int(current_user.id)


def _refused(order: Order, exc: Exception) -> Any:
    """The services refuse before they change anything; the 409 rolls the request back."""
    return render_detail(order, CONFLICT, action_error=str(exc))


@bp.post("/orders/<int:order_id>/process")
@permission_required("orders.manage")
def orders_process(order_id: int) -> Any:
    order = _locked(order_id)
    try:
        start_processing(order, actor_id=_me())
    except InvalidTransition as exc:
        return _refused(order, exc)
    flash(f"Order {order.number} is being prepared.", "success")
    return _back(order)


@bp.post("/orders/<int:order_id>/ship")
@permission_required("orders.manage")
def orders_ship(order_id: int) -> Any:
    order = _locked(order_id)
    form = ShipForm()
    if not form.validate():
        return render_detail(order, INVALID, ship_form=form)
    try:
        mark_shipped(
            order,
            carrier=form.carrier.data or "",
            tracking_number=form.tracking_number.data or "",
            tracking_url=form.tracking_url.data or "",
            actor_id=_me(),
        )
    except FulfilmentError as exc:
        show_on_form(form, exc, default="carrier")
        return render_detail(order, INVALID, ship_form=form)
    except InvalidTransition as exc:
        return _refused(order, exc)
    flash(f"Order {order.number} is marked as shipped; the customer has been emailed.", "success")
    return _back(order)


@bp.post("/orders/<int:order_id>/deliver")
@permission_required("orders.manage")
def orders_deliver(order_id: int) -> Any:
    order = _locked(order_id)
    try:
        mark_delivered(order, actor_id=_me())
    except InvalidTransition as exc:
        return _refused(order, exc)
    flash(f"Order {order.number} is marked as delivered.", "success")
    return _back(order)


@bp.post("/orders/<int:order_id>/notes")
@permission_required("orders.manage")
def orders_note(order_id: int) -> Any:
    order = db.get_or_404(Order, order_id)
    form = NoteForm()
    if not form.validate():
        return render_detail(order, INVALID, note_form=form)
    try:
        add_note(order, body=form.body.data or "", author_id=_me(), author_email=current_user.email)
    except FulfilmentError as exc:
        form.body.errors = [str(exc)]
        return render_detail(order, INVALID, note_form=form)
    flash("Note added.", "success")
    return _back(order)


@bp.post("/orders/<int:order_id>/cancel")
@permission_required("orders.manage")
def orders_cancel(order_id: int) -> Any:
    order = _locked(order_id)
    if refundable_amount(order) and not has_permission(current_user, "refunds.issue"):
        abort(403)  # cancelling a paid order refunds it: that needs the refund permission
    form = CancelForm()
    if not form.validate():
        return render_detail(order, INVALID, cancel_form=form)
    try:
        refunded = cancel_order(order, actor_id=_me(), reason=form.reason.data or "")
    except InvalidTransition as exc:
        return _refused(order, exc)
    message = f"Order {order.number} is cancelled."
    if refunded:
        message += f" {money(refunded, order.currency)} is being refunded."
    flash(message, "success")
    return _back(order)


def _quantities(order: Order, errors: dict[str, str]) -> dict[int, int]:
    wanted: dict[int, int] = {}
    for line in order.lines:
        raw = request.form.get(f"line-{line.id}", "").strip()
        if not raw or raw == "0":
            continue
        quantity = parse_int(raw, maximum=MAX_QUANTITY)
        if quantity is None:
            errors[f"line-{line.id}"] = "Enter a whole number of items."
            continue
        left = line.quantity - line.quantity_refunded
        if quantity > left:
            errors[f"line-{line.id}"] = f"At most {left} can be refunded."
            continue
        wanted[line.id] = quantity
    return wanted


@bp.post("/orders/<int:order_id>/refunds")
@permission_required("refunds.issue")
def orders_refund(order_id: int) -> Any:
    order = db.get_or_404(Order, order_id)
    form = RefundForm()
    errors: dict[str, str] = {}
    quantities = {k: v[:7] for k, v in request.form.items() if k.startswith("line-")}

    def again() -> Any:
        return render_detail(
            order,
            INVALID,
            refund_form=form,
            refund_errors=errors,
            refund_quantities=quantities,
        )

    if not form.validate():
        return again()
    wanted = _quantities(order, errors)
    amount = None
    if (form.amount.data or "").strip():
        try:
            amount = parse_money(form.amount.data or "", order.currency)
        except ValueError:
            errors["amount"] = "Enter an amount like 12.50."
    if amount is not None and not wanted and form.restock.data:
        errors["form"] = (
            "Putting items back in stock needs items: choose them above, or untick "
            "“Put items back in stock” to refund an amount only."
        )
    if errors:
        return again()
    if request.form.get("confirmed") != "1":
        # Money leaves the shop: show exactly what will be refunded and ask once more.
        try:
            preview = preview_refund(order, lines=wanted, amount=amount)
        except RefundError as exc:
            errors[exc.field or "form"] = str(exc)
            return again()
        return render_template(
            "admin/orders/refund_confirm.html",
            order=order,
            preview=preview,
            restock=bool(form.restock.data) and bool(wanted),
            reason=form.reason.data or "",
            posted={k: v for k, v in quantities.items() if v.strip() not in ("", "0")},
            amount_text=(form.amount.data or "").strip(),
        )
    try:
        refund = issue_refund(
            order,
            lines=wanted,
            amount=amount,
            restock=bool(form.restock.data),
            reason=form.reason.data or "",
            actor_id=_me(),
        )
    except RefundError as exc:  # issue_refund undid its own writes (a savepoint)
        db.session.refresh(order)
        errors[exc.field or "form"] = str(exc)
        return again()
    flash(
        f"Refund of {money(refund.amount, refund.currency)} sent to the payment provider; "
        "its status is under Refunds.",
        "success",
    )
    return _back(order)


@bp.post("/orders/<int:order_id>/refunds/<int:refund_id>/retry")
@permission_required("refunds.issue")
def orders_refund_retry(order_id: int, refund_id: int) -> Any:
    order = db.get_or_404(Order, order_id)
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.order_id != order.id:
        return render_detail(order, 404, action_error="There is no such refund on this order.")
    if not retry_refund(refund, actor_id=_me()):
        return render_detail(order, CONFLICT, action_error="That refund is already settled.")
    flash("The refund was sent to the payment provider again.", "success")
    return _back(order)

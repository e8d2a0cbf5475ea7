"""Asking for a return, from the order's page: signed in (the account's order) or a guest
(the signed link from the e-mails). One form, plain POST, works without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.numbers import parse_int
from app.extensions import limiter
from app.orders.customer import linked_order, own_order
from app.orders.models import Order
from app.returns import bp, services
from app.returns.models import REASON_LABELS, ReturnRequest
from app.returns.services import ReturnError


@bp.app_template_global()
def order_returns(order: Order) -> tuple[list[ReturnRequest], bool]:
    """The order's returns, and whether anything more can be returned now."""
    return services.requests_of(order), bool(services.returnable(order))


def _form(order: Order, back: str, action: str) -> Any:
    left = services.returnable(order)
    errors: dict[str, str] = {}
    typed: dict[str, Any] = {}
    if request.method == "POST":
        wanted: dict[int, int] = {}
        for line_id, most in left.items():
            raw = request.form.get(f"qty-{line_id}", "0").strip() or "0"
            typed[f"qty-{line_id}"] = raw[:10]
            value = parse_int(raw, minimum=0, maximum=most)
            if value is None:
                errors[f"qty-{line_id}"] = f"Enter a whole number from 0 to {most}."
            elif value:
                wanted[line_id] = value
        typed["reason"] = request.form.get("reason", "")[:32]
        typed["comment"] = request.form.get("comment", "")[:2000]
        if not errors:
            try:
                made = services.request_return(
                    order,
                    wanted,
                    reason=typed["reason"],
                    comment=typed["comment"],
                    actor_id=current_user.id if current_user.is_authenticated else None,
                )
            except ReturnError as exc:
                errors[exc.field or "form"] = str(exc)
            else:
                flash(
                    f"We received your return request {made.number}. We will e-mail you once "
                    "we have looked at it.",
                    "success",
                )
                return redirect(back, code=303)
    page = render_template(
        "returns/request.html",
        order=order,
        left=left,
        problem=services.why_not(order)
        or ("" if left else "Everything in this order has been returned or refunded already."),
        reasons=REASON_LABELS,
        errors=errors,
        typed=typed,
        action=action,
        back=back,
    )
    return page, (422 if errors else 200)


@bp.route("/account/orders/<number>/return", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def account_return(number: str) -> Any:
    order = own_order(number, current_user.id)
    if order is None:
        abort(404)
    return _form(
        order,
        url_for("orders.order_detail", number=number),
        url_for("returns.account_return", number=number),
    )


@bp.route("/orders/<token>/return", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def guest_return(token: str) -> Any:
    order = linked_order(token)
    if order is None:
        abort(404)
    return _form(
        order,
        url_for("checkout.order_status", token=token),
        url_for("returns.guest_return", token=token),
    )

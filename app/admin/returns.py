"""Returns: the requests customers made, by status; approve or refuse with a message,
receive the goods (restocking what is resellable), refund. The rules are in
app/returns/services.py; every step is audited and e-mailed there."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, str_arg
from app.core.numbers import parse_int
from app.extensions import db
from app.returns import services
from app.returns.models import REASON_LABELS, ReturnLine, ReturnRequest, ReturnStatus
from app.returns.services import ReturnError

PERMISSION = "orders.manage"


class ActionForm(FlaskForm):
    pass


@bp.get("/returns")
@permission_required("orders.view")
def returns() -> str:
    status = str_arg("status", choices=tuple(ReturnStatus)) or ReturnStatus.REQUESTED
    page = paginate(
        sa.select(ReturnRequest)
        .where(ReturnRequest.status == status)
        .options(
            selectinload(ReturnRequest.order),
            selectinload(ReturnRequest.lines).joinedload(ReturnLine.order_line),
        ),
        sorts={"created": ReturnRequest.created_at},
        default="-created",
        tiebreak=ReturnRequest.id,
    )
    counts = dict(
        db.session.execute(
            sa.select(ReturnRequest.status, sa.func.count()).group_by(ReturnRequest.status)
        ).all()
    )
    return render_template(
        "admin/returns/list.html",
        page=page,
        status=status,
        statuses=list(ReturnStatus),
        counts=counts,
        reasons=REASON_LABELS,
    )


def _request(return_id: int) -> ReturnRequest:
    found = db.session.get(ReturnRequest, return_id)
    if found is None:
        abort(404)
    return found


@bp.get("/returns/<int:return_id>")
@permission_required("orders.view")
def returns_detail(return_id: int) -> str:
    return render_template(
        "admin/returns/detail.html",
        ret=_request(return_id),
        reasons=REASON_LABELS,
        action_form=ActionForm(),
    )


def _act(return_id: int, action: Any) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    found = _request(return_id)
    try:
        message = action(found)
    except ReturnError as exc:
        flash(str(exc), "error")
    else:
        flash(message, "success")
    return redirect(url_for("admin.returns_detail", return_id=found.id), code=303)


@bp.post("/returns/<int:return_id>/approve")
@permission_required(PERMISSION)
def returns_approve(return_id: int) -> Response:
    def act(found: ReturnRequest) -> str:
        services.decide(
            found, True, message=request.form.get("message", ""), actor_id=current_user.id
        )
        return f"Approved return {found.number}; the customer has been e-mailed."

    return _act(return_id, act)


@bp.post("/returns/<int:return_id>/refuse")
@permission_required(PERMISSION)
def returns_refuse(return_id: int) -> Response:
    def act(found: ReturnRequest) -> str:
        services.decide(
            found, False, message=request.form.get("message", ""), actor_id=current_user.id
        )
        return f"Refused return {found.number}; the customer has been e-mailed why."

    return _act(return_id, act)


@bp.post("/returns/<int:return_id>/receive")
@permission_required(PERMISSION)
def returns_receive(return_id: int) -> Response:
    def act(found: ReturnRequest) -> str:
        received: dict[int, tuple[int, bool]] = {}
        for line in found.lines:
            units = parse_int(
                request.form.get(f"received-{line.id}", "0") or "0",
                minimum=0,
                maximum=line.quantity,
            )
            if units is None:
                raise ReturnError(f"Enter 0 to {line.quantity} for {line.order_line.product_name}.")
            received[line.id] = (units, request.form.get(f"resellable-{line.id}") == "y")
        restocked = services.receive(found, received, actor_id=current_user.id)
        return f"Received return {found.number}; {restocked} units are back in stock."

    return _act(return_id, act)


@bp.post("/returns/<int:return_id>/refund")
@permission_required("refunds.issue")
def returns_refund(return_id: int) -> Response:
    from app.core.templating import money

    def act(found: ReturnRequest) -> str:
        amount = services.refund(found, actor_id=current_user.id)
        return f"Refunding {money(amount, found.order.currency)} for return {found.number}."

    return _act(return_id, act)

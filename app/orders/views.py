"""A customer's own orders (anyone else's order is a 404, never a 403)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.core.templating import money
from app.extensions import db
from app.orders import bp
from app.orders.models import Order, OrderStatus
from app.orders.services import CANCELLABLE, cancel_paid
from app.orders.states import LABELS, InvalidTransition

PER_PAGE = 20


@bp.get("/account/orders")
@login_required
def list_orders() -> str:
    status = request.args.get("status", "")
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = sa.select(Order).where(Order.user_id == current_user.id)
    if status in set(OrderStatus):
        query = query.where(Order.status == status)
    else:
        status = ""
    total = db.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())
    ).scalar_one()
    orders = (
        db.session.execute(
            query.order_by(Order.created_at.desc(), Order.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    return render_template(
        "orders/list.html",
        orders=orders,
        status=status,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        labels=LABELS,
        statuses=list(OrderStatus),
    )


@bp.get("/account/orders/<number>")
@login_required
def order_detail(number: str) -> str:
    order = db.session.execute(
        sa.select(Order).where(Order.number == number, Order.user_id == current_user.id)
    ).scalar_one_or_none()
    if order is None:
        abort(404)
    return render_template(
        "checkout/order.html",
        order=order,
        labels=LABELS,
        cancel_url=url_for("orders.cancel_order", number=number),
    )


@bp.post("/account/orders/<number>/cancel")
@login_required
def cancel_order(number: str) -> Response:
    order = db.session.execute(
        sa.select(Order).where(Order.number == number, Order.user_id == current_user.id)
    ).scalar_one_or_none()
    if order is None:
        abort(404)
    return _cancel(order, url_for("orders.order_detail", number=number))


def _cancel(order: Order, back: str) -> Response:
    if order.status not in CANCELLABLE:
        return _not_cancellable(back)
    savepoint = db.session.begin_nested()
    try:
        refund = cancel_paid(
            order,
            actor_id=current_user.id if current_user.is_authenticated else None,
            note="cancelled by the customer",
        )
    except InvalidTransition:  # shipped, or cancelled by a racing request, since we read it
        savepoint.rollback()
        return _not_cancellable(back)
    savepoint.commit()
    flash(
        f"Order {order.number} is cancelled. We are refunding {money(refund, order.currency)}.",
        "success",
    )
    return redirect(back, code=303)


def _not_cancellable(back: str) -> Response:
    flash("This order can no longer be cancelled. Contact us about a return.", "error")
    return redirect(back, code=303)

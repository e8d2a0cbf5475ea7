"""A customer's own orders (anyone else's order is a 404, never a 403)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.core.numbers import page_number
from app.core.templating import money
from app.extensions import db
from app.orders import bp
from app.orders.customer import NotCancellable, can_cancel, cancel_by_customer, own_order
from app.orders.documents import has_invoice, invoice_pdf, pdf_response
from app.orders.models import Order, OrderStatus
from app.orders.states import LABELS

PER_PAGE = 20


@bp.get("/account/orders")
@login_required
def list_orders() -> str:
    status = request.args.get("status", "")
    page = page_number(request.args.get("page"))
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
    order = own_order(number, current_user.id)
    if order is None:
        abort(404)
    return render_template(
        "checkout/order.html",
        order=order,
        labels=LABELS,
        can_cancel=can_cancel(order),
        cancel_url=url_for("orders.cancel_order", number=number),
        invoice_url=url_for("orders.invoice", number=number) if has_invoice(order) else None,
        return_url=url_for("returns.account_return", number=number),
    )


@bp.get("/account/orders/<number>/invoice.pdf")
@login_required
def invoice(number: str) -> Response:
    order = own_order(number, current_user.id)
    if order is None or not has_invoice(order):
        abort(404)
    return pdf_response(invoice_pdf(order), f"invoice-{order.number}.pdf")


@bp.post("/account/orders/<number>/cancel")
@login_required
def cancel_order(number: str) -> Response:
    order = own_order(number, current_user.id)
    if order is None:
        abort(404)
    back = url_for("orders.order_detail", number=number)
    try:
        refunded = cancel_by_customer(order, actor_id=current_user.id)
    except NotCancellable as exc:
        flash(str(exc), "error")
        return redirect(back, code=303)
    flash(cancelled_message(order, refunded), "success")
    return redirect(back, code=303)


def cancelled_message(order: Order, refunded: int) -> str:
    message = f"Order {order.number} is cancelled."
    if refunded:
        message += f" We are refunding {money(refunded, order.currency)}."
    return message

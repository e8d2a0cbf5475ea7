"""Order resources: the signed-in user's orders, detail and cancellation, and the status to
poll after paying (for guests too, by the cart token their checkout used).

Anybody else's order number is a 404, exactly like one that does not exist. Cancelling uses
the website's service and rule (paid or being prepared: stock goes back and the payment is
refunded); any other status is a 409.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, jsonify, request

from app.api import bp, cursors
from app.api.auth import current_api_user
from app.api.cart import CART_TOKEN_HEADER, discount_out, owner_cart, resolve_owner
from app.api.checkout import address_out
from app.api.cursors import CursorError
from app.api.openapi import MAX_ID, operation
from app.api.schemas import Problem
from app.api.schemas_orders import (
    CancelOut,
    OrderEventOut,
    OrderLineOut,
    OrderListQuery,
    OrderOut,
    OrderPageOut,
    OrderStatusOut,
    OrderSummaryOut,
)
from app.core.errors import problem
from app.core.templating import money
from app.extensions import db
from app.orders.customer import (
    NotCancellable,
    can_cancel,
    cancel_by_customer,
    cart_order,
    own_order,
)
from app.orders.models import Order, OrderLine
from app.orders.states import LABELS, PAID_STATES

MAX_LIMIT = 100


def encode_cursor(before_id: int, limit: int) -> str:
    return cursors.encode(b=before_id, l=limit)


def decode_cursor(cursor: str) -> tuple[int, int]:
    """``(before_id, limit)`` of a cursor made by :func:`encode_cursor`, range-checked so a
    forged one can never reach the database with an id it cannot hold."""
    before, limit = cursors.decode(cursor, "b", "l")
    if not 1 <= before <= MAX_ID or not 1 <= limit <= MAX_LIMIT:
        raise CursorError("out of range")
    return before, limit


def _not_found() -> Response:
    return problem(404, "There is no such order in your account.", code="order-not-found")


def order_out(order: Order) -> OrderOut:
    shipping = order.shipping_address or {}
    return OrderOut(
        number=order.number,
        status=order.status,
        status_label=LABELS.get(order.status, order.status),
        created_at=order.created_at,
        paid_at=order.paid_at,
        email=order.email,
        currency=order.currency,
        lines=[OrderLineOut.model_validate(line, from_attributes=True) for line in order.lines],
        subtotal=order.subtotal,
        shipping=order.shipping,
        shipping_method=order.shipping_method,
        tax=order.tax,
        tax_inclusive=order.tax_inclusive,
        discount=order.discount,
        discounts=[discount_out(d) for d in order.discounts],
        total=order.total,
        shipping_address=address_out(shipping),
        billing_address=address_out(order.billing_address or shipping),
        events=[
            OrderEventOut(
                from_status=event.from_status,
                to_status=event.to_status,
                label=LABELS.get(event.to_status, event.to_status),
                note=event.note,
                created_at=event.created_at,
            )
            for event in order.events
        ],
        can_cancel=can_cancel(order),
    )


@operation(
    bp,
    "GET",
    "/orders",
    summary="Your orders, newest first (cursor pages)",
    description="Follow `next_cursor` until it is null.",
    query=OrderListQuery,
    responses={200: OrderPageOut, 400: Problem},
    auth=True,
    tags=["orders"],
)
def list_orders(query: OrderListQuery) -> OrderPageOut | Response:
    limit = query.limit
    before = None
    if query.cursor is not None:
        try:
            before, limit = decode_cursor(query.cursor)
        except CursorError:
            return problem(400, "The cursor is not one this API gave out.", code="invalid-cursor")
    item_count = (
        sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    stmt = sa.select(Order, item_count).where(Order.user_id == current_api_user().id)
    if query.status is not None:
        stmt = stmt.where(Order.status == query.status)
    if before is not None:
        stmt = stmt.where(Order.id < before)
    rows = db.session.execute(stmt.order_by(Order.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return OrderPageOut(
        items=[
            OrderSummaryOut(
                number=order.number,
                status=order.status,
                status_label=LABELS.get(order.status, order.status),
                created_at=order.created_at,
                currency=order.currency,
                total=order.total,
                item_count=count,
            )
            for order, count in rows
        ],
        next_cursor=encode_cursor(rows[-1][0].id, limit) if more else None,
    )


@operation(
    bp,
    "GET",
    "/orders/<number>",
    summary="One of your orders: lines, totals, addresses, status and history",
    responses={200: OrderOut, 404: Problem},
    auth=True,
    tags=["orders"],
)
def order_detail(number: str) -> OrderOut | Response:
    order = own_order(number, current_api_user().id)
    if order is None:
        return _not_found()
    return order_out(order)


@operation(
    bp,
    "GET",
    "/orders/<number>/status",
    summary="An order's status, to poll after paying",
    description=(
        "Signed-in users send their bearer token and see their own orders. Guests send the "
        "`X-Cart-Token` of the cart they checked out with and see that cart's guest orders; "
        "once they sign in with that header, those orders are the account's (poll with "
        "the bearer token). "
        "Poll every few seconds after the payment page closes until `paid` is true (or the "
        "status is payment_failed or cancelled)."
    ),
    responses={200: OrderStatusOut, 401: Problem, 404: Problem},
    tags=["orders"],
    cart_token=True,
    optional_auth=True,
)
def order_status(number: str) -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    order = None
    if owner.user_id is not None:
        order = own_order(number, owner.user_id)
    elif request.headers.get(CART_TOKEN_HEADER):
        order = cart_order(number, owner_cart(owner))
    if order is None:
        return _not_found()
    latest = max(order.payments, key=lambda p: p.id, default=None)
    body = OrderStatusOut(
        number=order.number,
        status=order.status,
        status_label=LABELS.get(order.status, order.status),
        paid=order.status in PAID_STATES and order.paid_at is not None,
        payment_status=latest.status if latest is not None else None,
        currency=order.currency,
        total=order.total,
    )
    response = jsonify(body.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    bp,
    "POST",
    "/orders/<number>/cancel",
    summary="Cancel an order before it ships; the payment is refunded",
    description=(
        "Allowed while the order is paid or being prepared, as on the website (409 "
        "order-not-cancellable otherwise). Stock goes back on the shelf and the refund is "
        "issued once."
    ),
    responses={200: CancelOut, 404: Problem, 409: Problem},
    auth=True,
    tags=["orders"],
)
def cancel_order(number: str) -> CancelOut | Response:
    user = current_api_user()
    order = own_order(number, user.id)
    if order is None:
        return _not_found()
    try:
        refund = cancel_by_customer(order, actor_id=user.id)
    except NotCancellable as exc:
        return problem(409, str(exc), code=exc.code)
    db.session.refresh(order, ["events"])
    return CancelOut(
        order=order_out(order),
        refund_total=refund,
        message=f"Order {order.number} is cancelled. We are refunding "
        f"{money(refund, order.currency)}.",
    )

"""Reaching an order's customer: the signed link to their order (guests need no sign-in),
and the emails about it, each with what every order email shows."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.orders.models import Order

SALT = "checkout.order-link"


def order_token(order: Order) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT).dumps(order.number)


def read_order_token(token: str) -> str | None:
    try:
        return str(URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT).loads(token))
    except BadSignature:
        return None


def order_link(order: Order) -> str:
    """The order's page for its customer, as an absolute URL for emails."""
    from app.notifications.rendering import external_url

    return external_url("checkout.order_status", token=order_token(order))


def first_name(order: Order) -> str:
    parts = str((order.shipping_address or {}).get("full_name") or "").split()
    return parts[0] if parts else "there"


def notify_customer(order: Order, template: str, **variables: Any) -> None:
    """Email ``template`` about ``order`` to its customer (queued after the commit), with the
    greeting, number, currency and link every order email carries."""
    from app.notifications.services import notify

    notify(
        template,
        to=order.email,
        user_id=order.user_id,
        variables={
            "name": first_name(order),
            "order_number": order.number,
            "currency": order.currency,
            "order_url": order_link(order),
            **variables,
        },
    )

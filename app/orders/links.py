"""Links to an order for its customer: signed-in customers see it in their account; guests
get a signed link (in their emails) that needs no sign-in."""

from __future__ import annotations

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

"""Signed links to an order for guests (sent in their confirmation email)."""

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

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
    """Tell the customer about ``order``: by e-mail always (queued after the commit), and by
    SMS and WhatsApp when they opted into order updates there and the account has a mobile
    number. Each channel is a row of its own in the outbox, so one that fails never holds up
    another. Every message carries the greeting, number, currency and link."""
    from app.accounts.models import User
    from app.extensions import db
    from app.notifications.models import Category, Channel
    from app.notifications.rendering import template_channels
    from app.notifications.services import is_allowed, notify

    values = {
        "name": first_name(order),
        "order_number": order.number,
        "currency": order.currency,
        "order_url": order_link(order),
        **variables,
    }
    notify(template, to=order.email, user_id=order.user_id, variables=values)
    if order.user_id is None:
        return  # a guest chose no channels: e-mail only
    channels = template_channels(template) - {Channel.EMAIL}
    user = db.session.get(User, order.user_id) if channels else None
    if user is None or not user.phone:
        return
    for channel in sorted(channels):
        if is_allowed(user.phone, user.id, channel, Category.TRANSACTIONAL):
            notify(template, to=user.phone, user_id=user.id, channel=channel, variables=values)

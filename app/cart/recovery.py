"""Abandoned carts: one reminder per cart, to shoppers who agreed to marketing e-mail.

* Signed-in shoppers: a cart idle for ``CART_RECOVERY_HOURS`` (and not for more than
  ``CART_RECOVERY_MAX_DAYS``), with lines and no payment under way, gets one e-mail whose
  link brings the shopper back to that cart (signing in first if needed).
* Guests cannot be reached by the shop, but Stripe can ask them at Checkout: a guest who
  ticked "keep me updated" there and let the session expire gets one e-mail with the
  expired session's recovery URL (app/checkout/completion.py calls :func:`recover_guest`).

"Once" is a conditional UPDATE of ``carts.recovery_sent_at`` (set where it was empty) in the
same transaction as the outbox row; the marketing category keeps unsubscribes and
bounces (and puts the one-click unsubscribe in the message).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.cart.models import Cart, CartLine
from app.cart.queries import build_cart_view, own_unpaid_orders
from app.cart.services import lock_cart
from app.db import affected, utcnow
from app.extensions import db
from app.notifications.models import Category, Channel
from app.notifications.rendering import external_url
from app.notifications.services import is_allowed, notify

SALT = "cart.recovery"
LINK_DAYS = 30
BATCH = 200


def restore_token(cart: Cart) -> str:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT).dumps(cart.id)


def read_restore_token(token: str) -> int | None:
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)
    try:
        value = serializer.loads(token[:200], max_age=LINK_DAYS * 86400)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def idle_carts(limit: int = BATCH, *, after: int = 0) -> list[int]:
    """Signed-in shoppers' carts idle long enough, with lines, never reminded (by id, from
    ``after`` on: a cart passed over because it is being paid for is not read again)."""
    cfg = current_app.config
    now = utcnow()
    newest = now - timedelta(hours=cfg["CART_RECOVERY_HOURS"])
    oldest = now - timedelta(days=cfg["CART_RECOVERY_MAX_DAYS"])
    has_lines = sa.exists().where(CartLine.cart_id == Cart.id)
    return list(
        db.session.execute(
            sa.select(Cart.id)
            .where(
                Cart.id > after,
                Cart.user_id.is_not(None),
                Cart.recovery_sent_at.is_(None),
                Cart.updated_at <= newest,
                Cart.updated_at > oldest,
                has_lines,
            )
            .order_by(Cart.id)
            .limit(limit)
        ).scalars()
    )


def _claim(cart_id: int) -> bool:
    return bool(
        affected(
            sa.update(Cart)
            .where(Cart.id == cart_id, Cart.recovery_sent_at.is_(None))
            .values(recovery_sent_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )


def _lines(cart: Cart) -> tuple[list[dict[str, Any]], int, str]:
    view = build_cart_view(cart)
    lines = [
        {
            "name": lv.line.variant.product.name,
            "options": lv.line.variant.options_label,
            "quantity": lv.line.quantity,
            "line_total": lv.line_total,
        }
        for lv in view.lines
        if lv.problem is None
    ]
    return lines, view.subtotal, view.currency


def remind(cart_id: int) -> bool:
    """The one reminder for a signed-in shopper's idle cart; False when it is not due or
    the shopper did not agree to marketing e-mail (the cart is then never reminded)."""
    from app.accounts.models import User

    cart = db.session.get(Cart, cart_id)
    if cart is None or cart.user_id is None or cart.recovery_sent_at is not None:
        return False
    user = db.session.get(User, cart.user_id)
    if user is None or not user.is_active:
        return False
    if own_unpaid_orders(cart):
        return False  # paying right now, or a payment link is still open
    lines, subtotal, currency = _lines(cart)
    if not lines or not _claim(cart.id):
        return False
    if not is_allowed(user.email, user.id, Channel.EMAIL, Category.MARKETING):
        return False  # claimed anyway: a later "yes" does not reach back to this cart
    notify(
        "cart-recovery",
        to=user.email,
        user_id=user.id,
        category=Category.MARKETING,
        variables={
            "name": (user.name or "").split()[0] if (user.name or "").split() else "there",
            "lines": lines,
            "subtotal": subtotal,
            "currency": currency,
            "cart_url": external_url("cart.restore", token=restore_token(cart)),
        },
    )
    return True


def recover_guest(cart: Cart | None, *, email: str, recovery_url: str) -> bool:
    """A guest agreed at Stripe Checkout to hear from the shop and let the session expire:
    one e-mail with Stripe's recovery link, once per cart (not while they are paying again)."""
    if cart is None or not email or not recovery_url.startswith(("https://", "http://")):
        return False
    # The cart locked first (this task holds no order): a press either committed its order,
    # which the next line sees, or waits until this mail is claimed.
    lock_cart(cart)
    if own_unpaid_orders(cart):
        return False  # pressed Pay again: paying right now, or a payment link is open
    lines, subtotal, currency = _lines(cart)
    if not lines or not _claim(cart.id):
        return False
    notify(
        "cart-recovery",
        to=email,
        category=Category.MARKETING,
        consent="stripe-checkout",  # the guest ticked Stripe's promotions consent
        variables={
            "name": "there",
            "lines": lines,
            "subtotal": subtotal,
            "currency": currency,
            "cart_url": recovery_url,
        },
    )
    return True

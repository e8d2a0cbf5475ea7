"""Asking for a review: some days after an order is delivered, one e-mail to a customer
who agreed to marketing e-mail, linking each product's review page. Once per order (a
conditional UPDATE of ``orders.review_requested_at``); orders delivered long ago are left."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.catalog.models import Product, ProductStatus, Variant
from app.db import affected, utcnow
from app.extensions import db
from app.notifications.models import Category, Channel
from app.notifications.rendering import external_url
from app.notifications.services import is_allowed, notify
from app.orders.models import Order, OrderLine, OrderStatus
from app.reviews.services import review_of

BATCH = 200
OLDEST_DAYS = 60


def due_orders(*, after: int = 0, limit: int = BATCH) -> list[int]:
    now = utcnow()
    days = current_app.config["REVIEW_REQUEST_DAYS"]
    return list(
        db.session.execute(
            sa.select(Order.id)
            .where(
                Order.id > after,
                Order.status == OrderStatus.DELIVERED,
                Order.user_id.is_not(None),
                Order.review_requested_at.is_(None),
                Order.delivered_at <= now - timedelta(days=days),
                Order.delivered_at > now - timedelta(days=OLDEST_DAYS),
            )
            .order_by(Order.id)
            .limit(limit)
        ).scalars()
    )


def ask(order_id: int) -> bool:
    """The one request for this order; False when not sent (already asked, no consent,
    nothing left to review)."""
    claimed = affected(
        sa.update(Order)
        .where(Order.id == order_id, Order.review_requested_at.is_(None))
        .values(review_requested_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    order = db.session.get(Order, order_id)
    if not claimed or order is None or order.user_id is None:
        return False
    user = db.session.get(User, order.user_id)
    if user is None or not is_allowed(user.email, user.id, Channel.EMAIL, Category.MARKETING):
        return False
    bought = (  # ids first: PostgreSQL has no DISTINCT over a row with JSON columns
        sa.select(Variant.product_id)
        .join(OrderLine, OrderLine.variant_id == Variant.id)
        .where(OrderLine.order_id == order.id)
    )
    products = list(
        db.session.execute(
            sa.select(Product)
            .where(Product.id.in_(bought), Product.status == ProductStatus.PUBLISHED)
            .order_by(Product.name)
        ).scalars()
    )
    to_review = [p for p in products if review_of(user.id, p.id) is None][:10]
    if not to_review:
        return False
    notify(
        "review-request",
        to=user.email,
        user_id=user.id,
        category=Category.MARKETING,
        variables={
            "name": (user.name or "").split()[0] if (user.name or "").split() else "there",
            "order_number": order.number,
            "products": [
                {"name": p.name, "url": external_url("reviews.write", slug=p.slug)}
                for p in to_review
            ],
        },
    )
    return True

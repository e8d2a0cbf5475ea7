"""Low-stock alerts to staff: one email per unit of work that crossed thresholds, listing
the variants that are still low when it is sent (a restock in between takes one off)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.catalog.models import Variant
from app.extensions import db
from app.notifications.models import Category
from app.notifications.rendering import external_url
from app.notifications.services import notify

MAX_LISTED = 50  # an import that empties a warehouse still sends a readable email


def alert_low_stock(variant_ids: list[int]) -> int:
    """Tell the staff alert addresses which of these variants are at or below their
    threshold now. Returns how many variants the alert names."""
    recipients = current_app.config["STAFF_ALERT_EMAILS"]
    if not recipients or not variant_ids:
        return 0
    low = (
        db.session.execute(
            sa.select(Variant)
            .options(joinedload(Variant.product))
            .where(
                Variant.id.in_(sorted(set(variant_ids))),
                Variant.track_inventory.is_(True),
                Variant.stock_on_hand - Variant.reserved <= Variant.low_stock_threshold,
            )
            .order_by(Variant.stock_on_hand - Variant.reserved, Variant.id)
        )
        .scalars()
        .all()
    )
    if not low:
        return 0
    items = [
        {
            "sku": variant.sku,
            "product_name": variant.product.name,
            "available": variant.stock_on_hand - variant.reserved,
            "threshold": variant.low_stock_threshold,
        }
        for variant in low[:MAX_LISTED]
    ]
    for address in recipients:
        notify(
            "low-stock",
            to=address,
            category=Category.STAFF,
            variables={
                "items": items,
                "more": max(len(low) - MAX_LISTED, 0),
                "admin_url": external_url("admin.inventory", low="1"),
            },
        )
    return len(low)

"""The staff dashboard. Later screens (products, orders, refunds, ...) join it here."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.accounts.permissions import ROLE_PERMISSIONS, permission_required
from app.admin import bp
from app.catalog.models import Product, ProductStatus, Variant
from app.extensions import db
from app.notifications.models import Notification, Status


@bp.get("/")
@permission_required("orders.view")
def dashboard() -> str:
    counts = dict(
        db.session.execute(
            sa.select(Product.status, sa.func.count()).group_by(Product.status)
        ).all()
    )
    low_stock = (
        db.session.execute(
            sa.select(Variant)
            .join(Product)
            .where(
                Product.status == ProductStatus.PUBLISHED,
                Variant.track_inventory.is_(True),
                Variant.stock_on_hand - Variant.reserved <= Variant.low_stock_threshold,
            )
            .order_by(Variant.stock_on_hand - Variant.reserved, Variant.id)
            .limit(20)
            .options(joinedload(Variant.product))
        )
        .scalars()
        .all()
    )
    dead = db.session.execute(
        sa.select(sa.func.count()).where(Notification.status == Status.DEAD)
    ).scalar_one()
    return render_template(
        "admin/dashboard.html",
        counts=counts,
        low_stock=low_stock,
        dead_notifications=dead,
        permissions=sorted(ROLE_PERMISSIONS.get(current_user.role, set())),
    )

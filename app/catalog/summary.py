"""Each product's listing summary (price range, in stock), recomputed from its variants
whenever prices or stock change."""

from __future__ import annotations

import sqlalchemy as sa

from app.catalog.cache import catalog_changed
from app.catalog.models import Product, Variant
from app.db import utcnow
from app.extensions import db


def refresh_product_summary(product_id: int) -> None:
    """Recompute the listing summary (price range, in stock) from the variants, in SQL."""
    variants = sa.select(Variant).where(Variant.product_id == product_id).subquery()
    available = (
        sa.select(sa.func.count())
        .select_from(variants)
        .where(
            sa.or_(
                variants.c.track_inventory.is_(False),
                variants.c.stock_on_hand - variants.c.reserved > 0,
            )
        )
    )
    db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id)
        .values(
            price_min=sa.select(sa.func.min(variants.c.price)).scalar_subquery(),
            price_max=sa.select(sa.func.max(variants.c.price)).scalar_subquery(),
            in_stock=available.scalar_subquery() > 0,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    product = db.session.identity_map.get(db.session.identity_key(Product, product_id))
    if product is not None:
        db.session.refresh(product, ["price_min", "price_max", "in_stock", "updated_at"])
    catalog_changed()

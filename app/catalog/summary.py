"""Each product's listing summary (price range, in stock), recomputed from its variants
whenever prices or stock change."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from app.catalog.cache import catalog_changed
from app.catalog.models import Product, Variant
from app.db import utcnow
from app.extensions import db


@cache
def _summary_update() -> sa.Update:
    """The UPDATE, built once (one product, bound at execution). It writes the row only when
    the summary changed: most stock changes leave a product's price range and "in stock" as
    they were, and on PostgreSQL every write of a product row also recomputes its search
    vector (a generated column) and adds to its indexes."""
    product_id = sa.bindparam("product_id", type_=sa.Integer)
    variants = sa.select(Variant).where(Variant.product_id == product_id).subquery()
    price_min = sa.select(sa.func.min(variants.c.price)).scalar_subquery()
    price_max = sa.select(sa.func.max(variants.c.price)).scalar_subquery()
    in_stock = (
        sa.select(sa.func.count())
        .select_from(variants)
        .where(
            sa.or_(
                variants.c.track_inventory.is_(False),
                variants.c.stock_on_hand - variants.c.reserved > 0,
            )
        )
        .scalar_subquery()
        > 0
    )
    return (
        sa.update(Product)
        .where(
            Product.id == product_id,
            sa.or_(
                Product.price_min.is_distinct_from(price_min),
                Product.price_max.is_distinct_from(price_max),
                Product.in_stock.is_distinct_from(in_stock),
            ),
        )
        .values(
            price_min=price_min,
            price_max=price_max,
            in_stock=in_stock,
            updated_at=sa.bindparam("now", type_=Product.updated_at.type),
        )
        .execution_options(synchronize_session=False)
    )


def refresh_product_summary(product_id: int, *, locked: bool = False) -> None:
    """Recompute the listing summary (price range, in stock) from the variants, in SQL, after
    the product's row is locked (``locked``: the caller locked it already, with the others
    of its change in id order; app/inventory/services.py). Waiting for the row inside the
    UPDATE would compute the summary from what the variants were when the statement began,
    before the other transaction committed, and could undo its "in stock"."""
    if not locked and db.engine.dialect.name == "postgresql":
        db.session.execute(
            sa.select(Product.id).where(Product.id == product_id).with_for_update(key_share=True)
        )
    db.session.execute(_summary_update(), {"product_id": product_id, "now": utcnow()})
    product = db.session.identity_map.get(db.session.identity_key(Product, product_id))
    if product is not None:  # read again only if something looks (no round trip otherwise)
        db.session.expire(product, ["price_min", "price_max", "in_stock", "updated_at"])
    catalog_changed(structure=False)  # prices and stock; other changes say so themselves

"""Wishlist verbs for both doors. A shopper has at most ``MAX_ITEMS``; saving twice is one
row (an upsert), removing what is not there is nothing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.catalog.errors import CatalogError
from app.catalog.models import Product, ProductStatus
from app.db import upsert, utcnow
from app.extensions import db
from app.wishlists.models import WishlistItem

MAX_ITEMS = 200


class WishlistError(CatalogError):
    code = "wishlist-refused"


def saved_ids(user_id: int | None, product_ids: list[int] | None = None) -> set[int]:
    """Which of these products (all, when None) the shopper has saved."""
    if user_id is None:
        return set()
    query = sa.select(WishlistItem.product_id).where(WishlistItem.user_id == user_id)
    if product_ids is not None:
        query = query.where(WishlistItem.product_id.in_(product_ids))
    return set(db.session.execute(query).scalars())


def save(user_id: int, product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.status != ProductStatus.PUBLISHED:
        raise WishlistError("That product is not sold any more.", code="product-not-found")
    count = db.session.execute(
        sa.select(sa.func.count()).where(WishlistItem.user_id == user_id)
    ).scalar_one()
    if count >= MAX_ITEMS and product_id not in saved_ids(user_id, [product_id]):
        raise WishlistError(
            f"Your wishlist holds {MAX_ITEMS} products, the most it keeps; remove some first.",
            code="wishlist-full",
        )
    db.session.execute(
        upsert(WishlistItem)
        .values(user_id=user_id, product_id=product_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "product_id"])
    )
    return product


def remove(user_id: int, product_id: int) -> bool:
    result = db.session.execute(
        sa.delete(WishlistItem).where(
            WishlistItem.user_id == user_id, WishlistItem.product_id == product_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def toggle(user_id: int, product_id: int) -> tuple[Product, bool]:
    """Save it, or take it off when it is there; (product, saved now)."""
    if product_id in saved_ids(user_id, [product_id]):
        remove(user_id, product_id)
        product = db.session.get(Product, product_id)
        assert product is not None
        return product, False
    return save(user_id, product_id), True


def items(user_id: int) -> list[WishlistItem]:
    """The shopper's wishlist, newest first, with what the page shows loaded up front."""
    return list(
        db.session.execute(
            sa.select(WishlistItem)
            .where(WishlistItem.user_id == user_id)
            .order_by(WishlistItem.id.desc())
            .options(
                joinedload(WishlistItem.product).selectinload(Product.variants),
                joinedload(WishlistItem.product).selectinload(Product.images),
            )
        )
        .unique()
        .scalars()
    )

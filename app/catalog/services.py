"""Catalog verbs. They flush, never commit; the entry point owns the transaction."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.catalog.cache import catalog_changed
from app.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductStatus,
    StockMovement,
    StockReason,
    Variant,
)
from app.core.html import html_to_text, sanitize_html
from app.db import utcnow
from app.extensions import db
from app.store import low_stock_default


class CatalogError(ValueError):
    """A catalog rule was broken; the message is safe to show to staff."""


class InsufficientStock(CatalogError):
    pass


def slugify(value: str, max_length: int = 200) -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "item"


def create_category(
    name: str,
    parent: Category | None = None,
    *,
    slug: str | None = None,
    position: int = 0,
    description: str = "",
) -> Category:
    slug = slugify(slug or name, 120)
    category = Category(
        name=name.strip(),
        slug=slug,
        parent=parent,
        position=position,
        description=description,
        depth=(parent.depth + 1) if parent else 0,
        slug_path=f"{parent.slug_path}/{slug}" if parent else slug,
        id_path="",
    )
    db.session.add(category)
    db.session.flush()  # id needed for the path
    category.id_path = f"{parent.id_path if parent else '/'}{category.id}/"
    catalog_changed()
    return category


@dataclass
class VariantInput:
    sku: str
    price: int
    options: dict[str, str]
    stock: int = 0
    compare_at_price: int | None = None
    track_inventory: bool = True


def create_product(
    name: str,
    variants: Iterable[VariantInput],
    *,
    category: Category | None = None,
    description_html: str = "",
    brand: str = "",
    attributes: dict[str, Any] | None = None,
    status: str = ProductStatus.DRAFT,
    currency: str = "EUR",
    featured: bool = False,
    actor_id: int | None = None,
    slug: str | None = None,
) -> Product:
    """A product with at least one variant; rich text is sanitised here, on save."""
    variants = list(variants)
    if not variants:
        raise CatalogError("A product needs at least one variant.")
    if status not in set(ProductStatus):
        raise CatalogError(f"Unknown status {status!r}.")
    product = Product(
        name=name.strip(),
        slug=unique_product_slug(slug or name),
        category=category,
        brand=brand.strip(),
        attributes=attributes or {},
        status=status,
        currency=currency,
        featured=featured,
        published_at=utcnow() if status == ProductStatus.PUBLISHED else None,
    )
    set_description(product, description_html)
    db.session.add(product)
    for position, spec in enumerate(variants):
        add_variant(product, spec, position=position, actor_id=actor_id)
    db.session.flush()
    refresh_product_summary(product.id)
    return product


def set_description(product: Product, description_html: str) -> None:
    product.description_html = sanitize_html(description_html)
    product.description_text = html_to_text(product.description_html)
    catalog_changed()


def add_variant(
    product: Product, spec: VariantInput, *, position: int = 0, actor_id: int | None = None
) -> Variant:
    if spec.price <= 0:
        raise CatalogError("Prices must be greater than zero.")
    if spec.stock < 0:
        raise CatalogError("Stock cannot be negative.")
    variant = Variant(
        product=product,
        sku=spec.sku.strip(),
        options=dict(spec.options),
        price=spec.price,
        compare_at_price=spec.compare_at_price,
        currency=product.currency or "EUR",
        stock_on_hand=spec.stock,
        reserved=0,
        track_inventory=spec.track_inventory,
        low_stock_threshold=low_stock_default(),
        position=position,
    )
    db.session.add(variant)
    db.session.flush()
    db.session.add(
        PriceChange(
            variant_id=variant.id,
            old_price=None,
            new_price=spec.price,
            currency=variant.currency,
            actor_id=actor_id,
        )
    )
    if spec.stock:
        db.session.add(
            StockMovement(
                variant_id=variant.id,
                on_hand_delta=spec.stock,
                reason=StockReason.INITIAL,
                actor_id=actor_id,
            )
        )
    catalog_changed()
    return variant


def unique_product_slug(name: str) -> str:
    base = slugify(name)
    taken = set(
        db.session.execute(
            sa.select(Product.slug).where(
                sa.or_(Product.slug == base, Product.slug.like(f"{base}-%"))
            )
        ).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def set_variant_price(
    variant: Variant,
    new_price: int,
    *,
    compare_at_price: int | None = None,
    actor_id: int | None = None,
) -> None:
    """Change a price and record it in the price history."""
    if new_price <= 0:
        raise CatalogError("Prices must be greater than zero.")
    if compare_at_price is not None and compare_at_price <= new_price:
        raise CatalogError("The compare-at price must be above the price.")
    old = variant.price
    variant.price = new_price
    variant.compare_at_price = compare_at_price
    if old != new_price:
        db.session.add(
            PriceChange(
                variant_id=variant.id,
                old_price=old,
                new_price=new_price,
                currency=variant.currency,
                actor_id=actor_id,
            )
        )
    db.session.flush()
    refresh_product_summary(variant.product_id)


def adjust_stock(
    variant_id: int,
    delta: int,
    *,
    reason: str = StockReason.ADJUSTMENT,
    note: str = "",
    actor_id: int | None = None,
) -> None:
    """Add or remove units on hand with one conditional UPDATE (no read-modify-write).

    A decrease that would leave fewer units than are reserved or below zero changes nothing
    and raises, whatever other transactions are doing at the same moment.
    """
    if delta == 0:
        return
    result = db.session.execute(
        sa.update(Variant)
        .where(Variant.id == variant_id, Variant.stock_on_hand + delta >= Variant.reserved)
        .values(stock_on_hand=Variant.stock_on_hand + delta)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InsufficientStock("Not enough stock for that change.")
    db.session.add(
        StockMovement(
            variant_id=variant_id,
            on_hand_delta=delta,
            reason=reason,
            note=note[:250],
            actor_id=actor_id,
        )
    )
    db.session.flush()
    product_id = db.session.execute(
        sa.select(Variant.product_id).where(Variant.id == variant_id)
    ).scalar_one()
    refresh_product_summary(product_id)


def set_product_status(product: Product, status: str) -> None:
    if status not in set(ProductStatus):
        raise CatalogError(f"Unknown status {status!r}.")
    product.status = status
    if status == ProductStatus.PUBLISHED and product.published_at is None:
        product.published_at = utcnow()
    db.session.flush()
    catalog_changed()


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

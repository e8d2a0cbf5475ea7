"""Applying a validated CSV import plan (see app/catalog/csv_import.py) to the catalog.

Everything goes through the catalog services the admin screens use: ``create_product`` for a
new handle, ``add_variant`` for a new SKU, ``set_variant_price`` (price history) and
``adjust_stock`` (a StockMovement with reason "import") for existing variants. Values are
absolute, so a row applied twice records nothing the second time. Called by the import job
(app/catalog/import_jobs.py), one chunk of whole products per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.catalog.cache import catalog_changed
from app.catalog.csv_import import (
    IMPORT_REASON,
    KEEP,
    ProductGroup,
    VariantRow,
    category_paths,
    description_changed,
    in_batches,
    specifications_changed,
)
from app.catalog.models import (
    Category,
    Product,
    ProductStatus,
    StockMovement,
    StockReason,
    Variant,
)
from app.catalog.services import (
    CatalogError,
    VariantInput,
    add_variant,
    create_product,
    refresh_product_summary,
    set_description,
    set_product_status,
    set_variant_price,
)
from app.catalog.specifications import parse_specifications_cell
from app.db import affected
from app.extensions import db
from app.inventory.services import adjust_stock
from app.store.settings import low_stock_default

__all__ = ["ApplyContext", "CatalogError", "apply_chunk", "apply_group", "chunk_groups"]


@dataclass
class ApplyContext:
    categories: dict[str, int]
    shop_currency: str
    actor_id: int | None
    note: str

    @classmethod
    def load(cls, *, actor_id: int | None, note: str) -> ApplyContext:
        return cls(category_paths(), current_app.config["SHOP_CURRENCY"], actor_id, note)


def chunk_groups(groups: Iterable[ProductGroup], rows: int) -> Iterator[list[ProductGroup]]:
    """Whole products, about ``rows`` rows per chunk, in file order (deterministic)."""
    chunk: list[ProductGroup] = []
    size = 0
    for group in groups:
        chunk.append(group)
        size += len(group.rows)
        if size >= rows:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def apply_chunk(groups: list[ProductGroup], context: ApplyContext) -> dict[str, int]:
    """Apply validated products in the caller's transaction; CatalogError if a rule now fails.

    Existing variants and their products are locked in id order first (the order checkout
    uses), so the stock read for each difference cannot change before the movement is
    written, and a shopper paying meanwhile never waits on the import in a circle.
    """
    from app.inventory.services import lock_stock

    skus = [row.sku for group in groups for row in group.rows]
    existing: list[int] = []
    for batch in in_batches(skus):
        existing += db.session.execute(
            sa.select(Variant.id).where(Variant.sku.in_(batch))
        ).scalars()
    lock_stock(existing)  # variants, then their products, by id: the order checkout locks in
    counts: dict[str, int] = {}
    for group in groups:
        for key, value in apply_group(group, context).items():
            counts[key] = counts.get(key, 0) + value
    return counts


def apply_group(group: ProductGroup, context: ApplyContext) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "products_created",
            "products_updated",
            "variants_created",
            "variants_updated",
            "stock_movements",
        ),
        0,
    )
    values = group.values
    category = _category(values.get("category"), context)
    product = db.session.execute(sa.select(Product).where(Product.slug == group.handle)).scalar()
    if product is None:
        product = create_product(
            values.get("name", ""),
            [_variant_input(r) for r in group.rows],
            category=category,
            description_html=values.get("description", ""),
            brand=values.get("brand", ""),
            attributes=parse_specifications_cell(values.get("specifications", "")),
            status=values.get("status", ProductStatus.DRAFT),
            currency=context.shop_currency,
            actor_id=context.actor_id,
            slug=group.handle,
        )
        if product.slug != group.handle:  # another product took the handle meanwhile
            raise CatalogError(f"The handle {group.handle} was taken while importing.")
        counts["products_created"] = 1
        counts["variants_created"] = len(group.rows)
        by_sku = {v.sku: v for v in product.variants}
        default_threshold = low_stock_default()
        for row in group.rows:
            new_variant = by_sku[row.sku]
            new_variant.low_stock_threshold = (
                row.low_stock if row.low_stock is not None else default_threshold
            )
        counts["stock_movements"] = _label_initial_stock(list(by_sku.values()), context)
        db.session.flush()
        return counts

    if _update_product(product, values, category, context):
        counts["products_updated"] = 1
    refresh_summary = False
    existing = {v.sku: v for v in product.variants}
    next_position = max((v.position for v in existing.values()), default=-1) + 1
    for row in group.rows:
        variant = existing.get(row.sku)
        if variant is None:
            owner = db.session.execute(sa.select(Variant.id).where(Variant.sku == row.sku)).scalar()
            if owner is not None:
                raise CatalogError(f"The SKU {row.sku} now belongs to another product.")
            variant = add_variant(
                product, _variant_input(row), position=next_position, actor_id=context.actor_id
            )
            next_position += 1
            variant.low_stock_threshold = (
                row.low_stock if row.low_stock is not None else low_stock_default()
            )
            counts["variants_created"] += 1
            counts["stock_movements"] += _label_initial_stock([variant], context)
            refresh_summary = True
            continue
        changed = False
        compare_at = variant.compare_at_price if row.compare_at is KEEP else row.compare_at
        if row.price != variant.price or compare_at != variant.compare_at_price:
            set_variant_price(
                variant, row.price, compare_at_price=compare_at, actor_id=context.actor_id
            )
            changed = True
        if row.options is not None and row.options != variant.options:
            variant.options = dict(row.options)
            changed = True
        if row.low_stock is not None and row.low_stock != variant.low_stock_threshold:
            variant.low_stock_threshold = row.low_stock
            changed = True
        if row.stock is not None and _set_stock(variant.id, row.stock, context):
            counts["stock_movements"] += 1
            changed = True
        counts["variants_updated"] += changed
    db.session.flush()
    if refresh_summary:
        refresh_product_summary(product.id)
    return counts


def _variant_input(row: VariantRow) -> VariantInput:
    return VariantInput(
        sku=row.sku,
        price=row.price,
        options=row.options or {},
        stock=row.stock or 0,
        compare_at_price=None if row.compare_at is KEEP else row.compare_at,
    )


def _label_initial_stock(variants: list[Variant], context: ApplyContext) -> int:
    """New variants get their stock from the catalog service as an "initial" movement; in an
    import it is recorded as an import movement, with the job in the note."""
    db.session.flush()
    result = affected(
        sa.update(StockMovement)
        .where(
            StockMovement.variant_id.in_([v.id for v in variants]),
            StockMovement.reason == StockReason.INITIAL,
        )
        .values(reason=IMPORT_REASON, note=context.note[:250])
        .execution_options(synchronize_session=False)
    )
    return result


def _category(path: str | None, context: ApplyContext) -> Category | None:
    if not path:
        return None
    category_id = context.categories.get(path)
    category = db.session.get(Category, category_id) if category_id else None
    if category is None:
        raise CatalogError(f"The category {path} no longer exists.")
    return category


def _update_product(
    product: Product, values: dict[str, str], category: Category | None, context: ApplyContext
) -> bool:
    changed = False
    if "name" in values and values["name"] != product.name:
        product.name = values["name"]
        changed = True
    if description_changed(product, values):
        set_description(product, values["description"])
        changed = True
    if "brand" in values and values["brand"] != product.brand:
        product.brand = values["brand"]
        changed = True
    if specifications_changed(product, values):
        product.attributes = parse_specifications_cell(values["specifications"])
        changed = True
    if category is not None and category.id != product.category_id:
        product.category = category
        changed = True
    if "status" in values and values["status"] != product.status:
        set_product_status(product, values["status"])
        changed = True
    if changed:
        db.session.flush()
        catalog_changed()
    return changed


def _set_stock(variant_id: int, target: int, context: ApplyContext) -> bool:
    """Bring stock on hand to ``target`` with one movement of the difference (none if equal).
    The row is locked (apply_chunk), so the difference is computed from the current value."""
    current = db.session.execute(
        sa.select(Variant.stock_on_hand).where(Variant.id == variant_id)
    ).scalar_one()
    if current == target:
        return False
    adjust_stock(
        variant_id,
        target - current,
        reason=IMPORT_REASON,
        note=context.note,
        actor_id=context.actor_id,
    )
    return True

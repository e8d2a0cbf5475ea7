"""Catalog verbs. They flush, never commit; the entry point owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from slugify import slugify as python_slugify
from sqlalchemy.exc import IntegrityError

from app.accounts.audit import audit
from app.catalog.cache import catalog_changed
from app.catalog.errors import CatalogError
from app.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductStatus,
    StockReason,
    Variant,
)
from app.catalog.summary import refresh_product_summary
from app.core.html import html_to_text, sanitize_html
from app.db import utcnow
from app.extensions import db
from app.inventory.services import adjust_stock
from app.store.settings import low_stock_default


def slugify(value: str, max_length: int = 200) -> str:
    """An ASCII address segment: python-slugify transliterates other scripts ("Привет мир"
    → "privet-mir") where dropping non-ASCII letters left nothing but "item"."""
    slug = python_slugify(value, max_length=max_length, word_boundary=False)
    return slug.strip("-") or "item"


META_TITLE_MAX, META_DESCRIPTION_MAX = 120, 320


def set_search_appearance(
    target: Product | Category, title: str | None, description: str | None
) -> list[str]:
    """The title and description search engines and link previews show (None leaves one
    as it is; empty falls back to the name and description). Returns what changed."""
    changed = []
    for field, value, limit in (
        ("meta_title", title, META_TITLE_MAX),
        ("meta_description", description, META_DESCRIPTION_MAX),
    ):
        if value is None:
            continue
        value = " ".join(value.split())  # one line: these end up in <meta content="...">
        if len(value) > limit:
            raise CatalogError(f"Use at most {limit} characters.", field=field)
        if value != getattr(target, field):
            setattr(target, field, value)
            changed.append(field)
    return changed


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
    with _unique_skus(", ".join(spec.sku.strip() for spec in variants)):
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
        stock_on_hand=0,  # received below, through the inventory's ledger
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
        adjust_stock(
            variant.id, spec.stock, reason=StockReason.INITIAL, actor_id=actor_id, refresh=False
        )
        db.session.expire(variant, ["stock_on_hand"])
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


def set_product_status(product: Product, status: str) -> None:
    if status not in set(ProductStatus):
        raise CatalogError(f"Unknown status {status!r}.")
    product.status = status
    if status == ProductStatus.PUBLISHED and product.published_at is None:
        product.published_at = utcnow()
    db.session.flush()
    catalog_changed()


# --- Staff catalog management (the admin area calls these; so may imports and the API) ---

PRODUCT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ProductStatus.DRAFT: (ProductStatus.PUBLISHED, ProductStatus.ARCHIVED),
    ProductStatus.PUBLISHED: (ProductStatus.ARCHIVED,),
    ProductStatus.ARCHIVED: (ProductStatus.PUBLISHED, ProductStatus.DRAFT),
}


def allowed_transitions(status: str) -> tuple[str, ...]:
    return PRODUCT_TRANSITIONS.get(status, ())


def transition_product_status(
    product: Product, status: str, *, actor_id: int | None = None, note: str = ""
) -> None:
    """Move a product along its life cycle (draft → published → archived, and back out of
    the archive). A published product is never sent back to draft: shoppers know it."""
    before = product.status
    if status not in allowed_transitions(before):
        raise CatalogError(f"A {before} product cannot become {status}.")
    set_product_status(product, status)
    detail = f"{before} -> {status}" + (f" ({note})" if note else "")
    audit(
        "catalog.product_status", actor_id=actor_id, target=f"product:{product.id}", detail=detail
    )


def update_product(
    product: Product,
    *,
    name: str,
    description_html: str,
    brand: str = "",
    category: Category | None = None,
    featured: bool = False,
    attributes: dict[str, Any] | None = None,
    meta_title: str | None = None,
    meta_description: str | None = None,
    actor_id: int | None = None,
) -> list[str]:
    """Edit what shoppers read; the slug (the public URL) stays. ``attributes``: the
    specifications, ``meta_*``: the search appearance (None leaves them). Returns the
    changed fields."""
    searched = set_search_appearance(product, meta_title, meta_description)
    before = {
        "name": product.name,
        "description": product.description_html,
        "brand": product.brand,
        "category": product.category_id,
        "featured": product.featured,
        "specifications": dict(product.attributes or {}),
    }
    if attributes is not None:
        product.attributes = dict(attributes)
    product.name = name.strip()
    product.brand = brand.strip()
    product.category = category
    product.featured = featured
    set_description(product, description_html)
    db.session.flush()
    after = {
        "name": product.name,
        "description": product.description_html,
        "brand": product.brand,
        "category": product.category_id,
        "featured": product.featured,
        "specifications": dict(product.attributes or {}),
    }
    catalog_changed()
    changed = [key for key in before if before[key] != after[key]] + searched
    if changed:
        audit(
            "catalog.product_update",
            actor_id=actor_id,
            target=f"product:{product.id}",
            detail="changed " + ", ".join(changed),
        )
    return changed


SKU_TAKEN = "sku-taken"


def _sku_taken_error(sku: str) -> CatalogError:
    return CatalogError(
        f"The SKU {sku} is already used by another variant.", code=SKU_TAKEN, field="sku"
    )


@contextmanager
def _unique_skus(sku: str) -> Iterator[None]:
    """Two staff saving the same new SKU at once: the unique index decides, the loser's change
    is undone (a savepoint) and refused like a SKU that was already taken."""
    try:
        with db.session.begin_nested():
            yield
    except IntegrityError as exc:
        if "sku" not in str(exc.orig).lower():
            raise
        raise _sku_taken_error(sku) from None


def sku_taken(sku: str, *, exclude_variant_id: int | None = None) -> bool:
    query = sa.select(Variant.id).where(Variant.sku == sku.strip())
    if exclude_variant_id is not None:
        query = query.where(Variant.id != exclude_variant_id)
    return db.session.execute(query.limit(1)).first() is not None


def create_variant(
    product: Product,
    spec: VariantInput,
    *,
    low_stock_threshold: int | None = None,
    actor_id: int | None = None,
) -> Variant:
    """Add a variant after the product's others (the SKU must be free; see :func:`sku_taken`)."""
    if sku_taken(spec.sku):
        raise _sku_taken_error(spec.sku.strip())
    last = db.session.execute(
        sa.select(sa.func.max(Variant.position)).where(Variant.product_id == product.id)
    ).scalar()
    with _unique_skus(spec.sku.strip()):
        variant = add_variant(
            product, spec, position=0 if last is None else last + 1, actor_id=actor_id
        )
        if low_stock_threshold is not None:
            variant.low_stock_threshold = low_stock_threshold
        db.session.flush()
    refresh_product_summary(product.id)
    audit(
        "catalog.variant_add",
        actor_id=actor_id,
        target=f"variant:{variant.id}",
        detail=f"product:{product.id} SKU {variant.sku} price {variant.price}",
    )
    return variant


def update_variant(
    variant: Variant,
    *,
    sku: str,
    options: dict[str, str],
    price: int,
    compare_at_price: int | None = None,
    track_inventory: bool = True,
    actor_id: int | None = None,
) -> list[str]:
    """Edit a variant; a new price goes through :func:`set_variant_price` (price history).
    Stock is never edited here: it changes only through :func:`adjust_stock` and friends."""
    sku = sku.strip()
    old_price = variant.price
    if sku != variant.sku and sku_taken(sku, exclude_variant_id=variant.id):
        raise _sku_taken_error(sku)
    changed = []
    if sku != variant.sku:
        changed.append("sku")
    if dict(options) != dict(variant.options):
        changed.append("options")
    if price != variant.price or compare_at_price != variant.compare_at_price:
        changed.append("price")
    if track_inventory != variant.track_inventory:
        changed.append("track_inventory")
    with _unique_skus(sku):
        variant.sku = sku
        variant.options = dict(options)
        variant.track_inventory = track_inventory
        set_variant_price(variant, price, compare_at_price=compare_at_price, actor_id=actor_id)
        db.session.flush()
    if changed:
        detail = "changed " + ", ".join(changed)
        if "price" in changed:
            detail += f"; price {old_price} -> {variant.price}"
        audit(
            "catalog.variant_update",
            actor_id=actor_id,
            target=f"variant:{variant.id}",
            detail=detail,
        )
    return changed


def product_was_ordered(product_id: int) -> bool:
    """True when any order line points at one of the product's variants."""
    from app.orders.models import OrderLine

    return (
        db.session.execute(
            sa.select(OrderLine.id)
            .join(Variant, Variant.id == OrderLine.variant_id)
            .where(Variant.product_id == product_id)
            .limit(1)
        ).first()
        is not None
    )


def delete_draft_product(product: Product, *, actor_id: int | None = None) -> None:
    """Remove a draft nobody ever ordered, with its variants, history and images.

    Anything that was ordered stays (order lines, invoices and refunds refer to it): archive
    it instead. Image files go once the deletion has committed.
    """
    from app.catalog.images import delete_product_image
    from app.catalog.models import ProductImage

    if product.status != ProductStatus.DRAFT:
        raise CatalogError("Only drafts can be deleted. Archive this product instead.")
    if product_was_ordered(product.id):
        raise CatalogError(
            "This product appears in orders, so it cannot be deleted. Archive it instead."
        )
    for image in list(product.images):
        delete_product_image(image, actor_id=actor_id)
    product_id, name = product.id, product.name[:200]
    # The database cascades to variants, stock movements, price changes and cart lines.
    db.session.execute(
        sa.delete(Product)
        .where(Product.id == product_id)
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Variant | ProductImage) and obj.product_id == product_id:
            db.session.expunge(obj)
    db.session.expunge(product)
    catalog_changed()
    audit("catalog.product_delete", actor_id=actor_id, target=f"product:{product_id}", detail=name)


def move_in_list(items: list[Any], item: Any, offset: int) -> bool:
    """Swap ``item`` with its neighbour and renumber ``position`` 0..n-1."""
    index = items.index(item)
    target = index + offset
    if offset == 0 or not 0 <= target < len(items):
        return False
    items[index], items[target] = items[target], items[index]
    for position, each in enumerate(items):
        each.position = position
    db.session.flush()
    catalog_changed()
    return True

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
    CategoryRedirect,
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


# --- Staff catalog management (the admin area calls these; so may imports and the API) ---

PRODUCT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ProductStatus.DRAFT: (ProductStatus.PUBLISHED, ProductStatus.ARCHIVED),
    ProductStatus.PUBLISHED: (ProductStatus.ARCHIVED,),
    ProductStatus.ARCHIVED: (ProductStatus.PUBLISHED, ProductStatus.DRAFT),
}


def allowed_transitions(status: str) -> tuple[str, ...]:
    return PRODUCT_TRANSITIONS.get(status, ())


def transition_product_status(product: Product, status: str) -> None:
    """Move a product along its life cycle (draft → published → archived, and back out of
    the archive). A published product is never sent back to draft: shoppers know it."""
    if status not in allowed_transitions(product.status):
        raise CatalogError(f"A {product.status} product cannot become {status}.")
    set_product_status(product, status)


def update_product(
    product: Product,
    *,
    name: str,
    description_html: str,
    brand: str = "",
    category: Category | None = None,
    featured: bool = False,
) -> list[str]:
    """Edit what shoppers read; the slug (the public URL) stays. Returns the changed fields."""
    before = {
        "name": product.name,
        "description": product.description_html,
        "brand": product.brand,
        "category": product.category_id,
        "featured": product.featured,
    }
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
    }
    catalog_changed()
    return [key for key in before if before[key] != after[key]]


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
        raise CatalogError(f"The SKU {spec.sku.strip()} is already used by another variant.")
    last = db.session.execute(
        sa.select(sa.func.max(Variant.position)).where(Variant.product_id == product.id)
    ).scalar()
    variant = add_variant(
        product, spec, position=0 if last is None else last + 1, actor_id=actor_id
    )
    if low_stock_threshold is not None:
        variant.low_stock_threshold = low_stock_threshold
    db.session.flush()
    refresh_product_summary(product.id)
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
    if sku != variant.sku and sku_taken(sku, exclude_variant_id=variant.id):
        raise CatalogError(f"The SKU {sku} is already used by another variant.")
    changed = []
    if sku != variant.sku:
        changed.append("sku")
    if dict(options) != dict(variant.options):
        changed.append("options")
    if price != variant.price or compare_at_price != variant.compare_at_price:
        changed.append("price")
    if track_inventory != variant.track_inventory:
        changed.append("track_inventory")
    variant.sku = sku
    variant.options = dict(options)
    variant.track_inventory = track_inventory
    set_variant_price(variant, price, compare_at_price=compare_at_price, actor_id=actor_id)
    return changed


def set_low_stock_threshold(variant: Variant, threshold: int) -> None:
    if threshold < 0:
        raise CatalogError("The low-stock threshold cannot be negative.")
    variant.low_stock_threshold = threshold
    db.session.flush()
    catalog_changed()  # product pages show "Only n left" from the threshold


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


def delete_draft_product(product: Product) -> None:
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
        delete_product_image(image)
    product_id = product.id
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


def _move_in_list(items: list[Any], item: Any, offset: int) -> bool:
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


def move_product_image(image: Any, offset: int) -> bool:
    """Move an image up (-1) or down (+1) among its product's images; the first is the main
    picture on listings."""
    from app.catalog.models import ProductImage

    images = list(
        db.session.execute(
            sa.select(ProductImage)
            .where(ProductImage.product_id == image.product_id)
            .order_by(ProductImage.position, ProductImage.id)
        ).scalars()
    )
    moved = _move_in_list(images, image, offset)
    if moved:
        db.session.expire(image.product, ["images"])
    return moved


def set_image_alt_text(image: Any, alt_text: str) -> None:
    image.alt_text = alt_text.strip()[:250]
    db.session.flush()
    catalog_changed()


def set_stock_count(
    variant_id: int,
    counted: int,
    *,
    reason: str = StockReason.COUNT_CORRECTION,
    note: str = "",
    actor_id: int | None = None,
    attempts: int = 10,
) -> int:
    """Set units on hand to a physical count and return the change recorded in the ledger.

    A compare-and-set on the value just read: a sale landing between the read and the write
    makes the UPDATE miss, and it is retried against the new value, so the ledger's delta is
    always the real difference.
    """
    if counted < 0:
        raise CatalogError("A counted quantity cannot be negative.")
    for _ in range(attempts):
        row = db.session.execute(
            sa.select(Variant.stock_on_hand, Variant.reserved, Variant.product_id).where(
                Variant.id == variant_id
            )
        ).first()
        if row is None:
            raise CatalogError("That variant no longer exists.")
        on_hand, reserved, product_id = row
        if counted < reserved:
            raise InsufficientStock(
                f"{reserved} units are reserved for unpaid orders, so the count cannot be "
                "lower than that."
            )
        delta = counted - on_hand
        if delta == 0:
            return 0
        result = db.session.execute(
            sa.update(Variant)
            .where(
                Variant.id == variant_id,
                Variant.stock_on_hand == on_hand,
                Variant.reserved <= counted,
            )
            .values(stock_on_hand=counted)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
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
            refresh_product_summary(product_id)
            return delta
    raise CatalogError("The stock kept changing while saving the count. Please try again.")


# --- Category tree editing ---

MAX_SLUG_PATH = 500
MAX_ID_PATH = 255


def _siblings_filter(parent_id: int | None) -> sa.ColumnElement[bool]:
    if parent_id is None:
        return Category.parent_id.is_(None)
    return Category.parent_id == parent_id


def _lock_category_tree() -> None:
    """Serialise tree edits: two concurrent moves could otherwise build a cycle between them.
    PostgreSQL locks every category row (there are few); SQLite's write lock already
    serialises writers. Rows loaded earlier are refreshed with what the lock protects."""
    db.session.execute(
        sa.select(Category)
        .order_by(Category.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars().all()


def slug_path_for(name_or_slug: str, parent: Category | None) -> str:
    slug = slugify(name_or_slug, 120)
    return f"{parent.slug_path}/{slug}" if parent else slug


def add_category(
    name: str, parent: Category | None = None, *, slug: str | None = None, description: str = ""
) -> Category:
    """Create a category at the end of its siblings; refuses a name whose URL is taken."""
    if not name.strip():
        raise CatalogError("A category needs a name.")
    _lock_category_tree()
    slug_path = slug_path_for(slug or name, parent)
    if len(slug_path) > MAX_SLUG_PATH or (parent and len(parent.id_path) + 12 > MAX_ID_PATH):
        raise CatalogError("That category would be nested too deeply.")
    if _slug_path_owner(slug_path) is not None:
        raise CatalogError(f"There is already a category at /c/{slug_path}. Choose another name.")
    parent_id = parent.id if parent else None
    last = db.session.execute(
        sa.select(sa.func.max(Category.position)).where(_siblings_filter(parent_id))
    ).scalar()
    return create_category(
        name,
        parent,
        slug=slug,
        position=0 if last is None else last + 1,
        description=description.strip(),
    )


def _slug_path_owner(slug_path: str) -> int | None:
    return db.session.execute(
        sa.select(Category.id).where(Category.slug_path == slug_path)
    ).scalar_one_or_none()


def update_category(
    category: Category,
    *,
    name: str,
    slug: str | None = None,
    parent: Category | None = None,
    description: str = "",
) -> list[str]:
    """Rename and/or move a category; the id and slug paths of its whole subtree are
    rewritten in the same transaction. Moving a category under itself or one of its own
    descendants is refused. Returns the changed fields."""
    if not name.strip():
        raise CatalogError("A category needs a name.")
    _lock_category_tree()
    if parent is not None and (
        parent.id == category.id or parent.id_path.startswith(category.id_path)
    ):
        raise CatalogError("A category cannot be moved under itself or one of its subcategories.")
    new_slug = slugify(slug or category.slug, 120)
    new_slug_path = f"{parent.slug_path}/{new_slug}" if parent else new_slug
    new_id_path = f"{parent.id_path if parent else '/'}{category.id}/"
    new_depth = parent.depth + 1 if parent else 0
    owner = _slug_path_owner(new_slug_path)
    if owner is not None and owner != category.id:
        raise CatalogError(
            f"There is already a category at /c/{new_slug_path}. Choose another name or place."
        )

    old_id_path, old_slug_path, old_depth = category.id_path, category.slug_path, category.depth
    descendants = list(
        db.session.execute(
            sa.select(Category).where(
                Category.id_path.like(f"{old_id_path}%"), Category.id != category.id
            )
        ).scalars()
    )
    longest_slug = max([len(d.slug_path) for d in descendants] + [len(old_slug_path)])
    longest_id = max([len(d.id_path) for d in descendants] + [len(old_id_path)])
    if (
        longest_slug - len(old_slug_path) + len(new_slug_path) > MAX_SLUG_PATH
        or longest_id - len(old_id_path) + len(new_id_path) > MAX_ID_PATH
    ):
        raise CatalogError("That move would nest categories too deeply.")

    changed = []
    new_parent_id = parent.id if parent else None
    if name.strip() != category.name:
        changed.append("name")
    if new_slug != category.slug:
        changed.append("slug")
    if new_parent_id != category.parent_id:
        changed.append("parent")
        last = db.session.execute(
            sa.select(sa.func.max(Category.position)).where(_siblings_filter(new_parent_id))
        ).scalar()
        category.position = 0 if last is None else last + 1
    if description.strip() != category.description:
        changed.append("description")

    category.name = name.strip()
    category.slug = new_slug
    category.parent = parent
    category.description = description.strip()
    category.slug_path, category.id_path, category.depth = new_slug_path, new_id_path, new_depth
    moved = {category.id: old_slug_path} if new_slug_path != old_slug_path else {}
    for node in descendants:
        if new_slug_path != old_slug_path:
            moved[node.id] = node.slug_path
        node.id_path = new_id_path + node.id_path[len(old_id_path) :]
        node.slug_path = new_slug_path + node.slug_path[len(old_slug_path) :]
        node.depth = node.depth - old_depth + new_depth
    db.session.flush()
    _remember_old_paths(moved)
    catalog_changed()
    return changed


def _remember_old_paths(moved: dict[int, str]) -> None:
    """Each moved category's former path now redirects to it (a path used before by another
    category is re-pointed); a path that is live again is no redirect."""
    if not moved:
        return
    old_paths = list(moved.values())
    db.session.execute(sa.delete(CategoryRedirect).where(CategoryRedirect.old_path.in_(old_paths)))
    db.session.add_all(
        CategoryRedirect(old_path=path, category_id=category_id)
        for category_id, path in moved.items()
    )
    live = sa.select(Category.slug_path)
    db.session.execute(sa.delete(CategoryRedirect).where(CategoryRedirect.old_path.in_(live)))
    db.session.flush()


def category_redirect(path: str) -> str | None:
    """Where a category that used to live at ``path`` lives now, if it moved."""
    if len(path) > MAX_SLUG_PATH:
        return None
    return db.session.execute(
        sa.select(Category.slug_path)
        .join(CategoryRedirect, CategoryRedirect.category_id == Category.id)
        .where(CategoryRedirect.old_path == path)
    ).scalar_one_or_none()


def move_category_position(category: Category, offset: int) -> bool:
    """Move a category up (-1) or down (+1) among its siblings."""
    _lock_category_tree()
    siblings = list(
        db.session.execute(
            sa.select(Category)
            .where(_siblings_filter(category.parent_id))
            .order_by(Category.position, Category.name, Category.id)
        ).scalars()
    )
    return _move_in_list(siblings, category, offset)

"""A believable demo catalog, inserted in bulk (100,000 products in well under a minute)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductImage,
    StockMovement,
    Variant,
)
from app.catalog.services import create_category, slugify
from app.db import utcnow
from app.extensions import db

TREE: dict[str, dict[str, list[str]]] = {
    "Clothing": {
        "Men": ["Shirts", "Trousers", "Jackets"],
        "Women": ["Dresses", "Tops", "Knitwear"],
    },
    "Homeware": {"Kitchen": ["Cookware", "Tableware"], "Decor": ["Lighting", "Textiles"]},
    "Outdoors": {"Camping": ["Tents", "Sleeping bags"], "Cycling": ["Bike lights", "Bags"]},
    "Books & Stationery": {"Notebooks": [], "Pens": []},
}
ADJECTIVES = [
    "Classic",
    "Everyday",
    "Heritage",
    "Nordic",
    "Urban",
    "Coastal",
    "Alpine",
    "Soft",
    "Rugged",
    "Minimal",
    "Vintage",
    "Organic",
    "Handmade",
    "Lightweight",
    "Cosy",
]
MATERIALS = [
    "Cotton",
    "Linen",
    "Wool",
    "Oak",
    "Ceramic",
    "Recycled",
    "Merino",
    "Canvas",
    "Stoneware",
    "Bamboo",
    "Leather",
    "Cast iron",
    "Walnut",
    "Hemp",
]
NOUNS = {
    "Shirts": "Shirt",
    "Trousers": "Chinos",
    "Jackets": "Jacket",
    "Dresses": "Dress",
    "Tops": "Top",
    "Knitwear": "Jumper",
    "Cookware": "Pan",
    "Tableware": "Bowl Set",
    "Lighting": "Lamp",
    "Textiles": "Throw",
    "Tents": "Tent",
    "Sleeping bags": "Sleeping Bag",
    "Bike lights": "Bike Light",
    "Bags": "Pannier",
    "Notebooks": "Notebook",
    "Pens": "Fountain Pen",
}
BRANDS = [
    "Fjord & Co",
    "Hearth",
    "Northwind",
    "Atelier Nine",
    "Kestrel",
    "Maple Lane",
    "Tallow",
    "Wayfarer",
    "Oakhurst",
    "Linden",
]
SIZES = ["XS", "S", "M", "L", "XL"]
COLOURS = ["Navy", "Sand", "Forest", "Charcoal", "Rust", "Ivory"]
CLOTHING = {"Shirts", "Trousers", "Jackets", "Dresses", "Tops", "Knitwear"}
PRICE_RANGES = {
    "Clothing": (1500, 18000),
    "Homeware": (900, 25000),
    "Outdoors": (1200, 45000),
    "Books & Stationery": (300, 6000),
}
PALETTE = [
    "#0b5cad",
    "#1e5631",
    "#8a1c12",
    "#6b4200",
    "#4b2e83",
    "#00595c",
    "#7a2048",
    "#2f4858",
    "#5c3d2e",
    "#33658a",
    "#86bbd8",
    "#f6ae2d",
]
BATCH = 2000


@dataclass
class SeedResult:
    categories: int
    products: int
    variants: int


def seed_demo_catalog(
    products: int,
    *,
    seed: int = 42,
    images: int = 12,
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Create categories (if none), then ``products`` published products in bulk.

    Flushes and executes in the caller's transaction; the caller commits.
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    leaves = _ensure_categories()
    image_keys = _demo_images(images) if images else []
    table_ids = {t: _next_id(t) for t in (Product, Variant, ProductImage)}
    now = utcnow()
    product_rows: list[dict[str, Any]] = []
    variant_rows: list[dict[str, Any]] = []
    image_rows: list[dict[str, Any]] = []
    price_rows: list[dict[str, Any]] = []
    stock_rows: list[dict[str, Any]] = []
    made_variants = 0
    pid, vid, iid = table_ids[Product], table_ids[Variant], table_ids[ProductImage]
    existing_slugs = set(db.session.execute(sa.select(Product.slug)).scalars())

    def flush_rows() -> None:
        for model, rows in (
            (Product, product_rows),
            (Variant, variant_rows),
            (ProductImage, image_rows),
            (PriceChange, price_rows),
            (StockMovement, stock_rows),
        ):
            if rows:
                db.session.execute(sa.insert(model), rows)
                rows.clear()

    for n in range(products):
        leaf, top = rng.choice(leaves)
        noun = NOUNS.get(leaf.name, leaf.name.rstrip("s"))
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {noun}"
        slug = slugify(name)
        if slug in existing_slugs:
            slug = f"{slug}-{pid}"
        existing_slugs.add(slug)
        low, high = PRICE_RANGES[top]
        base_price = rng.randrange(low, high, 100) - 1  # .99 prices
        variants = _variant_specs(rng, leaf.name in CLOTHING, base_price)
        created = now - timedelta(minutes=(products - n) * 7)
        stocked = [v for v in variants if v[2] > 0]
        brand = rng.choice(BRANDS)
        description = (
            f"<p>The {name.lower()} from {brand} is made to last and to be used every day.</p>"
            f"<ul><li>Material: {name.split()[1].lower()}</li><li>Designed in Europe</li>"
            f"<li>Free returns within 30 days</li></ul>"
        )
        product_rows.append(
            {
                "id": pid,
                "name": name,
                "slug": slug,
                "status": "published",
                "category_id": leaf.id,
                "brand": brand,
                "description_html": description,
                "description_text": _text(description),
                "attributes": {"material": name.split()[1]},
                "currency": "EUR",
                "price_min": min(v[1] for v in variants),
                "price_max": max(v[1] for v in variants),
                "in_stock": bool(stocked),
                "featured": n % 37 == 0,
                "published_at": created,
                "created_at": created,
                "updated_at": created,
            }
        )
        for position, (options, price, stock) in enumerate(variants):
            sku = f"SS-{pid:06d}-{position + 1:02d}"
            compare_at = price + price // 4 if rng.random() < 0.15 else None
            variant_rows.append(
                {
                    "id": vid,
                    "product_id": pid,
                    "sku": sku,
                    "options": options,
                    "price": price,
                    "compare_at_price": compare_at,
                    "currency": "EUR",
                    "stock_on_hand": stock,
                    "reserved": 0,
                    "track_inventory": True,
                    "low_stock_threshold": 5,
                    "position": position,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            price_rows.append(
                {
                    "variant_id": vid,
                    "old_price": None,
                    "new_price": price,
                    "currency": "EUR",
                    "created_at": created,
                }
            )
            if stock:
                stock_rows.append(
                    {
                        "variant_id": vid,
                        "on_hand_delta": stock,
                        "reserved_delta": 0,
                        "reason": "initial",
                        "note": "demo data",
                        "reference": "",
                        "created_at": created,
                    }
                )
            vid += 1
            made_variants += 1
        if image_keys:
            key, width, height = image_keys[n % len(image_keys)]
            image_rows.append(
                {
                    "id": iid,
                    "product_id": pid,
                    "storage_key": key,
                    "alt_text": f"{name} in {rng.choice(COLOURS).lower()}",
                    "position": 0,
                    "width": width,
                    "height": height,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            iid += 1
        pid += 1
        if len(product_rows) >= BATCH:
            flush_rows()
            if progress:
                progress(BATCH)
    remaining = len(product_rows)
    flush_rows()
    if progress and remaining:
        progress(remaining)
    _fix_sequences()
    # Fresh planner statistics: without them SQLite sorts 100,000 rows for a filtered page.
    db.session.execute(sa.text("ANALYZE"))
    from app.catalog.cache import catalog_changed
    from app.catalog.search import refresh_vocabulary

    refresh_vocabulary()  # typo correction knows the demo catalog's words at once

    catalog_changed()
    return SeedResult(len(leaves), products, made_variants)


def _variant_specs(rng: random.Random, clothing: bool, base: int) -> list[tuple[dict, int, int]]:
    def stock() -> int:
        return 0 if rng.random() < 0.12 else rng.randint(1, 60)

    if clothing:
        colour = rng.choice(COLOURS)
        sizes = SIZES[rng.randint(0, 1) : rng.randint(3, 5)]
        return [
            ({"size": s, "colour": colour}, base + (300 if s == "XL" else 0), stock())
            for s in sizes
        ]
    if rng.random() < 0.3:
        return [
            ({"finish": f}, base + extra, stock()) for f, extra in (("Natural", 0), ("Black", 500))
        ]
    return [({}, base, stock())]


def _ensure_categories() -> list[tuple[Category, str]]:
    existing = db.session.execute(sa.select(Category)).scalars().all()
    if not existing:
        for position, (top_name, middle) in enumerate(TREE.items()):
            top = create_category(
                top_name, position=position, description=f"Everything in {top_name.lower()}."
            )
            for mid_position, (mid_name, leaf_names) in enumerate(middle.items()):
                mid = create_category(mid_name, top, position=mid_position)
                for leaf_position, leaf_name in enumerate(leaf_names):
                    create_category(leaf_name, mid, position=leaf_position)
        db.session.flush()
        existing = db.session.execute(sa.select(Category)).scalars().all()
    by_id = {c.id: c for c in existing}
    parents = {c.parent_id for c in existing}
    leaves = [c for c in existing if c.id not in parents]

    def top_name_of(category: Category) -> str:
        top_id = int(category.id_path.strip("/").split("/")[0])
        return by_id[top_id].name

    return [(leaf, top_name_of(leaf)) for leaf in leaves if top_name_of(leaf) in PRICE_RANGES] or [
        (leaf, next(iter(PRICE_RANGES))) for leaf in leaves
    ]


def _demo_images(count: int) -> list[tuple[str, int, int]]:
    """A few generated pictures, stored once and shared by the demo products."""
    from PIL import Image, ImageDraw

    from app.catalog.images import new_storage_key, process_image, rendition_key
    from app.file_storage import get_storage

    storage = get_storage()
    keys = []
    for i in range(count):
        image = Image.new("RGB", (900, 900), PALETTE[i % len(PALETTE)])
        draw = ImageDraw.Draw(image)
        accent = PALETTE[(i + 5) % len(PALETTE)]
        draw.ellipse((180 + i * 7, 180, 720, 720 - i * 9), fill=accent)
        draw.rectangle((320, 380 + i * 5, 580, 620), fill="#ffffff")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        processed = process_image(buffer.getvalue())
        key = new_storage_key(processed.content_hash)
        for (size, ext), data in processed.renditions.items():
            storage.save(
                rendition_key(key, size, ext), data, "image/webp" if ext == "webp" else "image/jpeg"
            )
        keys.append((key, processed.width, processed.height))
    return keys


def _text(html: str) -> str:
    from app.core.html import html_to_text

    return html_to_text(html)


def _next_id(model: type[Product | Variant | ProductImage]) -> int:
    return (db.session.execute(sa.select(sa.func.max(model.id))).scalar() or 0) + 1


def _fix_sequences() -> None:
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("products", "variants", "product_images"):
        sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"  # noqa: E501, S608 - fixed table names
        db.session.execute(sa.text(sql))


def count_products() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Product)).scalar_one()

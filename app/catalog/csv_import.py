"""CSV import of products and variants: validating a file into a plan (app/catalog/csv_format.py
is the format itself, app/catalog/csv_apply.py applies a plan).

One row per variant; rows sharing a ``handle`` (the product's URL slug) are one product,
whatever their order. ``csv_format.COLUMNS`` is the format, shown to staff on the import page. An
existing SKU updates that variant, a new SKU adds a variant, a new handle creates a product;
app/catalog/csv_apply.py does that through the catalog services the admin screens use, so
price history, stock movements, the search index and cache invalidation behave as for an
edit by hand.

Nothing is written unless the whole file is valid: ``validate_text()`` checks every row,
against the format and the current catalog, and returns every error (row, column, message)
with a summary of what would change. Row numbers count the header as row 1, as a
spreadsheet shows them.

Values are absolute (``stock`` is the stock on hand, not a change), so importing the same
file twice changes nothing the second time, and an export re-imported is a no-op. A blank
cell keeps an existing product's or variant's value (a new one gets the default), except
``compare_at_price``, where blank means "no compare-at price"; a column left out of the
file keeps that field everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.catalog.csv_format import (
    COLUMN_NAMES,
    COLUMNS_BY_NAME,
    CONTROL_CHARS,
    PRODUCT_FIELDS,
    RowError,
    check_header,
    decode,
    parse_count,
    parse_options,
    read_rows,
)
from app.catalog.errors import CatalogError
from app.catalog.models import Category, Product, ProductStatus, Variant
from app.catalog.specifications import parse_specifications_cell
from app.core.html import sanitize_html
from app.core.money import decimal_text, minor_units
from app.extensions import db

MAX_STORED_ERRORS = 1_000
IMPORT_REASON = "import"  # StockMovement.reason for every stock change an import makes
MAX_PRICE_MAJOR = 10**9  # a billion: a typo, not a price
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_BATCH = 500


KEEP: Any = object()  # "leave the existing value alone"


@dataclass
class VariantRow:
    row: int
    sku: str
    price: int
    options: dict[str, str] | None = None  # None: keep / {} for a new variant
    compare_at: Any = KEEP  # KEEP, None or minor units
    stock: int | None = None
    low_stock: int | None = None


@dataclass
class ProductGroup:
    handle: str
    first_row: int
    values: dict[str, str] = field(default_factory=dict)  # product-level cells given
    sources: dict[str, int] = field(default_factory=dict)  # column -> row that gave it
    flagged: set[str] = field(default_factory=set)  # product columns with a row error
    rows: list[VariantRow] = field(default_factory=list)


@dataclass
class Plan:
    groups: list[ProductGroup]
    errors: list[RowError]
    total_rows: int
    summary: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_money(value: str, currency: str) -> int:
    """A price cell: '19.99' -> 1999 (minor units of ``currency``), above zero."""
    return minor_units(value, currency, what="price", positive=True, max_major=MAX_PRICE_MAJOR)


# --------------------------------------------------------------------------- validation


def validate_bytes(data: bytes) -> tuple[str, Plan]:
    """Decode then validate; FileError for a file that cannot be read at all."""
    text = decode(data)
    return text, validate_text(text)


def validate_text(text: str) -> Plan:
    """Every error in the file, or a plan that can be applied (see the module docstring)."""
    shop_currency = current_app.config["SHOP_CURRENCY"]
    header, raw_rows, errors = read_rows(text)
    header_errors = check_header(header)
    if header_errors:
        return Plan([], header_errors + errors, len(raw_rows), {})
    groups: dict[str, ProductGroup] = {}
    skus: dict[str, int] = {}
    for number, cells in raw_rows:
        _check_row(number, cells, groups, skus, errors, shop_currency)
    total = len(raw_rows)
    plan = Plan(list(groups.values()), errors, total, {})
    _check_against_catalog(plan, shop_currency)
    plan.errors.sort(
        key=lambda e: (e.row, COLUMN_NAMES.index(e.column) if e.column in COLUMN_NAMES else -1)
    )
    return plan


Report = Callable[[str, str], None]  # (column, message): one row's error


def _check_row(
    number: int,
    cells: dict[str, str],
    groups: dict[str, ProductGroup],
    skus: dict[str, int],
    errors: list[RowError],
    shop_currency: str,
) -> None:
    bad: set[str] = set()  # columns with an error; a row with any is not imported

    def error(column: str, message: str) -> None:
        errors.append(RowError(number, column, message))
        bad.add(column)

    _check_cells(cells, error)
    handle = _check_identity(number, cells, skus, shop_currency, error)
    variant = _variant_row(number, cells, shop_currency, error)
    if handle is None:
        return
    group = groups.get(handle)
    if group is None:
        group = groups[handle] = ProductGroup(handle, number)
    group.flagged |= bad
    _merge_product_fields(group, number, cells, bad, error)
    if not bad:
        group.rows.append(variant)


def _check_cells(cells: dict[str, str], error: Report) -> None:
    for name, value in cells.items():
        column = COLUMNS_BY_NAME.get(name)
        if column and len(value) > column.max_length:
            error(name, f"Longer than {column.max_length:,} characters ({len(value):,}).")
        elif CONTROL_CHARS.search(value) or (
            name != "description" and ("\n" in value or "\r" in value)
        ):
            error(name, "Contains line breaks or control characters.")


def _check_identity(
    number: int, cells: dict[str, str], skus: dict[str, int], shop_currency: str, error: Report
) -> str | None:
    """Handle, SKU (unique in the file), status and currency; the handle when it is usable."""
    handle = cells.get("handle", "")
    if not handle:
        error("handle", "Required.")
    elif not _SLUG.match(handle):
        error("handle", "Use lower-case letters, digits and single hyphens, like linen-shirt.")
    sku = cells.get("sku", "")
    if not sku:
        error("sku", "Required.")
    elif sku in skus:
        error("sku", f"The SKU {sku} is also on row {skus[sku]}.")
    else:
        skus[sku] = number
    status = cells.get("status", "").lower()
    if status and status not in set(ProductStatus):
        error("status", "Use draft, published or archived.")
    currency = cells.get("currency", "").upper()
    if currency and currency != shop_currency:
        error("currency", f"This shop sells in {shop_currency}.")
    return handle if handle and _SLUG.match(handle) else None


def _variant_row(number: int, cells: dict[str, str], currency: str, error: Report) -> VariantRow:
    variant = VariantRow(number, cells.get("sku", ""), 0)
    try:
        variant.price = parse_money(cells.get("price", ""), currency)
    except ValueError as exc:
        error("price", "Required." if not cells.get("price") else str(exc))
    if "compare_at_price" in cells:
        raw = cells["compare_at_price"]
        try:
            variant.compare_at = parse_money(raw, currency) if raw else None
        except ValueError as exc:
            error("compare_at_price", str(exc))
        else:
            if (
                variant.compare_at is not None
                and variant.price
                and (variant.compare_at <= variant.price)
            ):
                error("compare_at_price", "Must be above the price.")
    if cells.get("options"):
        try:
            variant.options = parse_options(cells["options"])
        except ValueError as exc:
            error("options", str(exc))
    for name in ("stock", "low_stock_threshold"):
        if cells.get(name):
            try:
                parsed = parse_count(cells[name])
            except ValueError as exc:
                error(name, str(exc))
            else:
                setattr(variant, "stock" if name == "stock" else "low_stock", parsed)
    return variant


def _merge_product_fields(
    group: ProductGroup, number: int, cells: dict[str, str], bad: set[str], error: Report
) -> None:
    """The product's own columns must say the same on every row of its handle."""
    for name in PRODUCT_FIELDS:
        value = "" if name in bad else cells.get(name, "")
        if name == "status":
            value = value.lower()
        elif name == "currency":
            value = value.upper()
        elif name == "category":
            value = value.strip("/").lower()
        if not value:
            continue
        if name == "specifications":
            try:
                parse_specifications_cell(value)
            except CatalogError as exc:
                error(name, str(exc))
                continue
        if name in group.values and group.values[name] != value:
            error(name, f"Differs from row {group.sources[name]} of the same handle.")
        elif name not in group.values:
            group.values[name] = value
            group.sources[name] = number


def in_batches(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]


def _check_against_catalog(plan: Plan, shop_currency: str) -> None:
    """Existing products, SKUs and categories; counts what the import would change."""
    existing = _existing(plan)
    categories = category_paths()
    counts = dict.fromkeys(
        (
            "products_created",
            "products_updated",
            "products_unchanged",
            "variants_created",
            "variants_updated",
            "variants_unchanged",
            "price_changes",
            "stock_movements",
        ),
        0,
    )
    for group in plan.groups:
        product = existing.products.get(group.handle)
        _check_product(group, product, categories, plan.errors, counts)
        _check_variants(group, product, existing, plan.errors, counts)
    plan.summary = counts


@dataclass
class _Existing:
    products: dict[str, Product]  # by handle
    variants: dict[str, Variant]  # by SKU
    owners: dict[int, str]  # handles of other products owning a SKU in the file


def _existing(plan: Plan) -> _Existing:
    handles = [g.handle for g in plan.groups]
    products: dict[str, Product] = {}
    for batch in in_batches(handles):
        for product in db.session.execute(
            sa.select(Product).where(Product.slug.in_(batch))
        ).scalars():
            products[product.slug] = product
    all_skus = [v.sku for g in plan.groups for v in g.rows]
    variants: dict[str, Variant] = {}
    for batch in in_batches(all_skus):
        for variant in db.session.execute(
            sa.select(Variant).where(Variant.sku.in_(batch))
        ).scalars():
            variants[variant.sku] = variant
    owner_ids = {v.product_id for v in variants.values()} - {p.id for p in products.values()}
    owners: dict[int, str] = {}
    for batch in in_batches(sorted(owner_ids)):
        owners.update(
            db.session.execute(
                sa.select(Product.id, Product.slug).where(Product.id.in_(batch))
            ).all()
        )
    return _Existing(products, variants, owners)


def _check_product(
    group: ProductGroup,
    product: Product | None,
    categories: dict[str, int],
    errors: list[RowError],
    counts: dict[str, int],
) -> None:
    values = group.values
    path = values.get("category")
    if path and path not in categories:
        errors.append(
            RowError(group.sources["category"], "category", f'No category has the path "{path}".')
        )
    if product is None:
        if not values.get("name") and "name" not in group.flagged:
            errors.append(RowError(group.first_row, "name", "Required for a new product."))
        counts["products_created"] += 1
    else:
        if values.get("currency") and values["currency"] != product.currency:
            errors.append(
                RowError(
                    group.sources["currency"],
                    "currency",
                    f"The product is priced in {product.currency}.",
                )
            )
        if values.get("status") == ProductStatus.DRAFT and product.is_published:
            errors.append(
                RowError(
                    group.sources["status"],
                    "status",
                    "A published product cannot go back to draft; archive it instead.",
                )
            )
        changed = _product_changes(product, values, categories)
        counts["products_updated" if changed else "products_unchanged"] += 1


def _check_variants(
    group: ProductGroup,
    product: Product | None,
    existing: _Existing,
    errors: list[RowError],
    counts: dict[str, int],
) -> None:
    products, variants, owners = existing.products, existing.variants, existing.owners
    options_seen: dict[tuple[tuple[str, str], ...], int] = {}
    for row in group.rows:
        if row.options is not None:
            key = tuple(sorted(row.options.items()))
            if key in options_seen:
                errors.append(
                    RowError(row.row, "options", f"Same options as row {options_seen[key]}.")
                )
            options_seen[key] = row.row
        variant = variants.get(row.sku)
        if variant is None:
            counts["variants_created"] += 1
            counts["stock_movements"] += bool(row.stock)
            continue
        if product is None or variant.product_id != product.id:
            owner = owners.get(variant.product_id) or next(
                (p.slug for p in products.values() if p.id == variant.product_id), "?"
            )
            errors.append(
                RowError(
                    row.row,
                    "sku",
                    f"The SKU {row.sku} belongs to the "
                    f'product "{owner}"; moving variants is not supported.',
                )
            )
            continue
        compare_at = variant.compare_at_price if row.compare_at is KEEP else row.compare_at
        if compare_at is not None and compare_at <= row.price:
            errors.append(
                RowError(
                    row.row,
                    "price",
                    "The variant's compare-at price "
                    f"({decimal_text(compare_at, variant.currency)}) is not "
                    "above this price; give a compare_at_price.",
                )
            )
        if row.stock is not None and row.stock < variant.reserved:
            errors.append(
                RowError(
                    row.row,
                    "stock",
                    f"{variant.reserved} units are "
                    "reserved by unpaid orders; stock cannot go below that.",
                )
            )
        changed = _variant_changes(variant, row)
        counts["variants_updated" if changed else "variants_unchanged"] += 1
        counts["price_changes"] += row.price != variant.price
        counts["stock_movements"] += row.stock is not None and row.stock != variant.stock_on_hand


def category_paths() -> dict[str, int]:
    return dict(db.session.execute(sa.select(Category.slug_path, Category.id)).all())


def description_changed(product: Product, values: dict[str, str]) -> bool:
    """Both sides cleaned: a stored "&" and an exported-then-cleaned "&amp;" are the same."""
    if "description" not in values:
        return False
    return sanitize_html(values["description"]) != sanitize_html(product.description_html or "")


def specifications_changed(product: Product, values: dict[str, str]) -> bool:
    if "specifications" not in values:
        return False
    return parse_specifications_cell(values["specifications"]) != dict(product.attributes or {})


def _product_changes(product: Product, values: dict[str, str], categories: dict[str, int]) -> bool:
    if "name" in values and values["name"] != product.name:
        return True
    if description_changed(product, values):
        return True
    if "brand" in values and values["brand"] != product.brand:
        return True
    if "category" in values and categories.get(values["category"]) != product.category_id:
        return True
    if specifications_changed(product, values):
        return True
    return "status" in values and values["status"] != product.status


def _variant_changes(variant: Variant, row: VariantRow) -> bool:
    return (
        row.price != variant.price
        or (row.compare_at is not KEEP and row.compare_at != variant.compare_at_price)
        or (row.options is not None and row.options != variant.options)
        or (row.stock is not None and row.stock != variant.stock_on_hand)
        or (row.low_stock is not None and row.low_stock != variant.low_stock_threshold)
    )

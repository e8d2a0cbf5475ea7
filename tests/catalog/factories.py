"""Small builders for catalog test data, through the real services."""

from __future__ import annotations

import itertools

from app.catalog.models import Category, Product
from app.catalog.services import VariantInput, create_category, create_product

_counter = itertools.count(1)


def category(name: str, parent: Category | None = None) -> Category:
    return create_category(name, parent)


def product(
    name: str = "Linen Shirt",
    *,
    price: int = 2500,
    stock: int = 5,
    category: Category | None = None,
    status: str = "published",
    variants: list[VariantInput] | None = None,
    **kwargs,
) -> Product:
    n = next(_counter)
    specs = variants or [VariantInput(sku=f"T-{n:05d}", price=price, options={}, stock=stock)]
    return create_product(name, specs, category=category, status=status, **kwargs)

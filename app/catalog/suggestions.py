"""Suggestions while a shopper types: products, categories and brands for the words so far.

One function for the storefront's combobox and the API, cached per catalog version like the
listing pages (the same few prefixes are typed by everyone). Products come from the search
index (app/catalog/search.py: stemmed, the last word a prefix), best match first; categories
and brands from small in-memory lists whose words start with what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app.catalog.cache import cached_value
from app.catalog.models import Product, ProductStatus
from app.catalog.queries import get_category_tree
from app.catalog.search import MAX_QUERY_LENGTH, completions, search_clause, search_terms
from app.extensions import db

MIN_LENGTH = 2  # one letter suggests half the catalog
PRODUCTS, CATEGORIES, BRANDS = 5, 3, 3


@dataclass(frozen=True)
class ProductSuggestion:
    id: int
    slug: str
    name: str
    price_min: int | None  # None: no variant priced yet
    currency: str


@dataclass(frozen=True)
class CategorySuggestion:
    name: str
    path: str  # slug path, e.g. clothing/men


@dataclass(frozen=True)
class Suggestions:
    query: str
    products: list[ProductSuggestion] = field(default_factory=list)
    categories: list[CategorySuggestion] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.products or self.categories or self.brands)


def normalise(query: str) -> str:
    return " ".join(query.split())[:MAX_QUERY_LENGTH]


def suggest(query: str) -> Suggestions:
    text = normalise(query)
    if len(text) < MIN_LENGTH or not search_terms(text):
        return Suggestions(text)
    return cached_value("suggest:" + text.lower(), lambda: _suggest(text))


def _starts_words(name: str, terms: list[str]) -> bool:
    """Every typed word starts a word of ``name`` ("nor wi" matches "Northwind Wide")."""
    words = [w.lower() for w in search_terms(name)]
    return all(any(w.startswith(t) for w in words) for t in terms)


def _suggest(text: str) -> Suggestions:
    terms = [t.lower() for t in search_terms(text)]
    products = _products(text, complete=False) or _products(text, complete=True)
    tree = get_category_tree()
    categories = [
        CategorySuggestion(node.name, node.slug_path)
        for node in sorted(tree.nodes.values(), key=lambda n: (n.depth, n.name))
        if _starts_words(node.name, terms)
    ][:CATEGORIES]
    brands = [b for b in _brands() if _starts_words(b, terms)][:BRANDS]
    return Suggestions(text, products, categories, brands)


def _products(text: str, *, complete: bool) -> list[ProductSuggestion]:
    """The best matches; ``complete``: also by the catalog words the last word begins (only
    asked when the plain prefix found nothing, see app/catalog/search.py)."""
    if complete and not completions(text):
        return []
    found = search_clause(
        db.engine.dialect.name, text, ranked=True, complete=complete, exact_first=False
    )
    if found is None:
        return []
    rows = db.session.execute(
        sa.select(Product.id, Product.slug, Product.name, Product.price_min, Product.currency)
        .join(found.subquery, found.subquery.c.product_id == Product.id)
        .where(Product.status == ProductStatus.PUBLISHED)
        .order_by(found.rank.asc(), Product.id.desc())
        .limit(PRODUCTS)
    ).all()
    return [
        ProductSuggestion(id=i, slug=slug, name=name, price_min=price, currency=currency)
        for i, slug, name, price, currency in rows
    ]


def _brands() -> list[str]:
    """The published catalog's brands, most products first (cached per catalog version)."""

    def load() -> list[str]:
        count = sa.func.count()
        return list(
            db.session.execute(
                sa.select(Product.brand)
                .where(Product.status == ProductStatus.PUBLISHED, Product.brand != "")
                .group_by(Product.brand)
                .order_by(count.desc(), Product.brand)
            ).scalars()
        )

    return cached_value("brands", load, stock=False)

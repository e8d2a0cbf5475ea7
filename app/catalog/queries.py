"""Catalog reads for the storefront. Each page costs a handful of queries, whatever its size."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from flask import abort, g
from sqlalchemy.orm import selectinload

from app.catalog.cache import cached_value
from app.catalog.listing import ListingParams
from app.catalog.models import Category, Product, ProductStatus, Variant
from app.catalog.search import SearchClause, completions, correct, search_clause
from app.extensions import db
from app.store.settings import filterable_specifications


@dataclass(frozen=True)
class CategoryNode:
    """A category detached from the session, safe to cache and share between requests."""

    id: int
    parent_id: int | None
    name: str
    slug_path: str
    id_path: str
    depth: int
    position: int
    description: str
    # Defaults, so that a tree cached before these fields existed still loads.
    meta_title: str = ""
    meta_description: str = ""


@dataclass
class CategoryTree:
    nodes: dict[int, CategoryNode]

    @property
    def roots(self) -> list[CategoryNode]:
        return self.children_of(None)

    def children_of(self, parent_id: int | None) -> list[CategoryNode]:
        kids = [n for n in self.nodes.values() if n.parent_id == parent_id]
        return sorted(kids, key=lambda n: (n.position, n.name))

    def by_path(self, slug_path: str) -> CategoryNode | None:
        return next((n for n in self.nodes.values() if n.slug_path == slug_path), None)

    def ancestors(self, node: CategoryNode) -> list[CategoryNode]:
        ids = [int(i) for i in node.id_path.strip("/").split("/") if i]
        return [self.nodes[i] for i in ids if i in self.nodes]

    def flattened(self) -> list[CategoryNode]:
        out: list[CategoryNode] = []

        def walk(parent_id: int | None) -> None:
            for child in self.children_of(parent_id):
                out.append(child)
                walk(child.id)

        walk(None)
        return out


def get_category_tree() -> CategoryTree:
    """The whole tree, from the shared cache (categories are few and read on every page)."""
    if "category_tree" not in g:
        g.category_tree = CategoryTree(
            cached_value("categories", _load_category_nodes, stock=False)
        )
    return g.category_tree


def _load_category_nodes() -> dict[int, CategoryNode]:
    rows = db.session.execute(
        sa.select(
            Category.id,
            Category.parent_id,
            Category.name,
            Category.slug_path,
            Category.id_path,
            Category.depth,
            Category.position,
            Category.description,
            Category.meta_title,
            Category.meta_description,
        )
    ).all()
    return {r.id: CategoryNode(**r._mapping) for r in rows}


def descendant_ids_subquery(node: CategoryNode) -> sa.Select[int]:
    """This category and every descendant, as one indexed prefix match on the id path."""
    return sa.select(Category.id).where(Category.id_path.like(f"{node.id_path}%"))


@dataclass
class ListingPage:
    products: list[Product]
    total: int
    params: ListingParams
    category: CategoryNode | None
    facets: list[tuple[CategoryNode, int]]
    search_ignored: bool = False
    corrected_from: str = ""  # what was typed, when these are the results of a correction
    brands: list[tuple[str, int]] = field(default_factory=list)  # the brand facet
    # One facet per specification staff made filterable: (name, [(value, count)]).
    spec_facets: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.params.per_page))


def list_products(params: ListingParams, tree: CategoryTree) -> ListingPage:
    """Published products for a listing: search, category subtree, price, stock, sort, page.

    A search that finds nothing is tried once more with its spelling corrected against the
    catalog's words (unless ``as_typed``); the page then says what it searched for instead.
    """
    page = _list_products(params, tree)
    if page.total or not params.q or page.search_ignored:
        return page
    # A half-typed last word ("runn") misses its stemmed forms ("running" is indexed as
    # "run"): the words of the catalog it begins are tried before any correction.
    if completions(params.q):
        page = _list_products(params, tree, complete=True)
    if page.total or params.as_typed:
        return page
    corrected = correct(params.q)
    if corrected is None:
        return page
    instead = _list_products(replace(params, q=corrected, as_typed=True), tree)
    return replace(instead, corrected_from=params.q) if instead.total else page


def _list_products(
    params: ListingParams, tree: CategoryTree, *, complete: bool = False
) -> ListingPage:
    category = tree.by_path(params.category) if params.category else None
    base = sa.select(Product.id).where(Product.status == ProductStatus.PUBLISHED)
    if params.min_price is not None:
        base = base.where(Product.price_min >= params.min_price)
    if params.max_price is not None:
        base = base.where(Product.price_min <= params.max_price)
    if params.in_stock:
        base = base.where(Product.in_stock.is_(True))

    dialect = db.engine.dialect.name
    search_ignored = False
    search = ranked_search = None
    if params.q:
        search = search_clause(dialect, params.q, ranked=False, complete=complete)
        if search is None:
            search_ignored = True
        elif params.sort == "relevance":
            ranked_search = search_clause(dialect, params.q, ranked=True, complete=complete)

    def scoped_query(
        clause: SearchClause | None, *, by_brand: bool = True, but_spec: str | None = None
    ) -> sa.Select[int]:
        query = base
        if by_brand and params.brand:
            query = query.where(Product.brand == params.brand)
        for name, value in params.specs:
            if name != but_spec:
                query = query.where(spec_value(name) == value)
        if clause is not None:
            query = query.join(clause.subquery, clause.subquery.c.product_id == Product.id)
        # Facet counts cover the current search within the current category subtree.
        if category is not None:
            query = query.where(Product.category_id.in_(descendant_ids_subquery(category)))
        elif params.category:
            query = query.where(sa.false())  # unknown category slug: nothing, not everything
        return query

    # Total and facet counts do not depend on the page, so every page of a listing shares them.
    # The brand facet counts every brand under the other filters (choosing one still shows
    # the others, with what choosing them would give).
    summary_key = f"summary:v3:{int(complete)}:" + params.with_page(1).cache_key()
    total, counts, brands, spec_facets = cached_value(
        summary_key,
        lambda: (
            *_summary(scoped_query(search), tree, category),
            _brand_counts(scoped_query(search, by_brand=False)),
            [
                (name, _spec_counts(scoped_query(search, but_spec=name), name))
                for name in filterable_specifications()
            ],
        ),
    )
    facets = [(tree.nodes[node_id], n) for node_id, n in counts if node_id in tree.nodes]

    scoped = scoped_query(ranked_search or search)
    order = _order_by(params, ranked_search.rank if ranked_search is not None else None)
    page_ids = (
        db.session.execute(
            scoped.order_by(*order)
            .limit(params.per_page)
            .offset((params.page - 1) * params.per_page)
        )
        .scalars()
        .all()
    )
    products = _load_cards(page_ids)
    return ListingPage(
        products,
        total,
        params,
        category,
        facets,
        search_ignored,
        brands=list(brands),
        spec_facets=[(name, values) for name, values in spec_facets if values],
    )


def _order_by(
    params: ListingParams, rank: sa.ColumnElement[float] | None
) -> list[sa.ColumnElement]:
    if params.sort == "relevance" and rank is not None:
        return [rank.asc(), Product.id.desc()]
    if params.sort == "price":
        return [Product.price_min.asc(), Product.id.asc()]
    if params.sort == "-price":
        return [Product.price_min.desc(), Product.id.desc()]
    if params.sort == "name":
        return [Product.name.asc(), Product.id.asc()]
    return [Product.created_at.desc(), Product.id.desc()]


def _summary(
    scoped: sa.Select[int], tree: CategoryTree, category: CategoryNode | None
) -> tuple[int, list[tuple[int, int]]]:
    """One grouped query gives both the total and the per-category counts."""
    query = scoped.with_only_columns(Product.category_id, sa.func.count()).group_by(
        Product.category_id
    )
    rows = db.session.execute(query).all()
    total = sum(n for _, n in rows)
    per_category = Counter({cid: n for cid, n in rows if cid is not None})
    facets = []
    for child in tree.children_of(category.id if category else None):
        count = sum(
            n
            for cid, n in per_category.items()
            if cid in tree.nodes and tree.nodes[cid].id_path.startswith(child.id_path)
        )
        if count:
            facets.append((child.id, count))
    return total, facets


BRAND_FACETS = 12


def _brand_counts(scoped: sa.Select[int]) -> list[tuple[str, int]]:
    count = sa.func.count()
    rows = db.session.execute(
        scoped.with_only_columns(Product.brand, count)
        .where(Product.brand != "")
        .group_by(Product.brand)
        .order_by(count.desc(), Product.brand)
        .limit(BRAND_FACETS)
    ).all()
    return [(brand, n) for brand, n in rows]


def spec_value(name: str) -> sa.ColumnElement[str]:
    """A product's value of one specification (JSON, on both databases; None without it)."""
    return Product.attributes[name].as_string()


def _spec_counts(scoped: sa.Select[int], name: str) -> list[tuple[str, int]]:
    value = spec_value(name)
    count = sa.func.count()
    rows = db.session.execute(
        scoped.with_only_columns(value, count)
        .where(value.is_not(None), value != "")
        .group_by(value)
        .order_by(count.desc(), value)
        .limit(BRAND_FACETS)
    ).all()
    return [(v, n) for v, n in rows]


def _load_cards(ids: Sequence[int]) -> list[Product]:
    if not ids:
        return []
    products = (
        db.session.execute(
            sa.select(Product)
            .where(Product.id.in_(ids))
            .options(selectinload(Product.images), selectinload(Product.variants))
        )
        .scalars()
        .all()
    )
    by_id = {p.id: p for p in products}
    return [by_id[i] for i in ids if i in by_id]


def get_published_product_or_404(slug: str) -> Product:
    product = db.session.execute(
        sa.select(Product)
        .where(Product.slug == slug, Product.status == ProductStatus.PUBLISHED)
        .options(selectinload(Product.variants), selectinload(Product.images))
    ).scalar_one_or_none()
    if product is None:
        abort(404)
    return product


def list_related_products(product: Product, limit: int = 4) -> list[Product]:
    if product.category_id is None:
        return []
    query = (
        sa.select(Product)
        .where(
            Product.category_id == product.category_id,
            Product.status == ProductStatus.PUBLISHED,
            Product.id != product.id,
        )
        .order_by(Product.in_stock.desc(), Product.created_at.desc())
        .limit(limit)
        .options(selectinload(Product.images), selectinload(Product.variants))
    )
    return list(db.session.execute(query).scalars())


def list_featured_products(limit: int = 8) -> list[Product]:
    query = (
        sa.select(Product)
        .where(Product.status == ProductStatus.PUBLISHED)
        .order_by(Product.featured.desc(), Product.created_at.desc(), Product.id.desc())
        .limit(limit)
        .options(selectinload(Product.images), selectinload(Product.variants))
    )
    return list(db.session.execute(query).scalars())


def get_variant_for_product(product: Product, variant_id: int | None) -> Variant | None:
    if not product.variants:
        return None
    if variant_id is not None:
        for variant in product.variants:
            if variant.id == variant_id:
                return variant
    return next((v for v in product.variants if v.is_available), product.variants[0])


def iter_published_product_slugs(offset: int, limit: int) -> sa.Result[str, datetime]:
    return db.session.execute(
        sa.select(Product.slug, Product.updated_at)
        .where(Product.status == ProductStatus.PUBLISHED)
        .order_by(Product.id)
        .offset(offset)
        .limit(limit)
        .execution_options(yield_per=5000)
    )


def count_published_products() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).where(Product.status == ProductStatus.PUBLISHED)
    ).scalar_one()

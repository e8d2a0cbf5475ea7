"""Public, read-only catalog: the category tree, product listings (cursor pages), products.

Filtering, sorting and search are the storefront's own (``ListingParams``/``list_products``);
responses carry an ETag and answer 304 to ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from typing import Any, cast

from flask import Response, jsonify, request
from pydantic import BaseModel, Field

from app.api import bp, cursors
from app.api.auth import authenticate_request, current_api_user
from app.api.cursors import CursorError
from app.api.openapi import MAX_ID, operation
from app.api.schemas import (
    BrandFacetOut,
    CategoryOut,
    CategorySuggestionOut,
    CategoryTreeOut,
    ImageOut,
    Problem,
    ProductCardOut,
    ProductListQuery,
    ProductOut,
    ProductPageOut,
    ProductSuggestionOut,
    SpecFacetOut,
    SpecValueOut,
    SuggestionQuery,
    SuggestionsOut,
    VariantOut,
)
from app.api.schemas_cart import Strict
from app.catalog.cache import cached_value
from app.catalog.images import FORMATS, SIZES
from app.catalog.listing import ListingParams
from app.catalog.media import image_url
from app.catalog.models import Product, ProductImage
from app.catalog.queries import (
    CategoryTree,
    get_category_tree,
    get_published_product_or_404,
    list_products,
)
from app.catalog.search_stats import record_search
from app.catalog.suggestions import suggest
from app.core.errors import problem
from app.core.numbers import MAX_PAGE
from app.extensions import limiter
from app.inventory import waitlist
from app.inventory.waitlist import WaitlistError
from app.ratelimit import limiter_key

MAX_LIMIT = 100


def encode_cursor(offset: int, limit: int) -> str:
    return cursors.encode(o=offset, l=limit)


def decode_cursor(cursor: str) -> tuple[int, int]:
    """``(offset, limit)`` of a cursor made by :func:`encode_cursor`; CursorError otherwise."""
    offset, limit = cursors.decode(cursor, "o", "l")
    if not 1 <= limit <= MAX_LIMIT or offset < 0 or offset % limit:
        raise CursorError("out of range")
    if offset // limit + 1 > MAX_PAGE:
        raise CursorError("out of range")
    return offset, limit


def conditional_json(model: BaseModel | dict[str, Any]) -> Response:
    """JSON with an ETag over the body; 304 when the client already has it."""
    response = jsonify(model if isinstance(model, dict) else model.model_dump(mode="json"))
    response.add_etag()
    response.headers["Cache-Control"] = "public, no-cache"
    return cast(Response, response.make_conditional(request))  # it returns the response itself


def image_out(image: ProductImage) -> ImageOut:
    urls = {
        f"{size}.{ext}": image_url(image, size, ext)
        for size in SIZES
        for ext in FORMATS
        if ext != "jpeg"
    }
    return ImageOut(alt_text=image.alt_text, width=image.width, height=image.height, urls=urls)


def _category_out(tree: CategoryTree, node_id: int | None) -> list[CategoryOut]:
    return [
        CategoryOut(
            id=node.id,
            name=node.name,
            slug_path=node.slug_path,
            description=node.description,
            children=_category_out(tree, node.id),
        )
        for node in tree.children_of(node_id)
    ]


@operation(
    bp,
    "GET",
    "/categories",
    summary="The category tree",
    responses={200: CategoryTreeOut, 304: None},
    tags=["catalog"],
)
def categories() -> Response:
    tree = get_category_tree()
    return conditional_json(CategoryTreeOut(items=_category_out(tree, None)))


def _card(product: Product) -> ProductCardOut:
    image = product.primary_image
    return ProductCardOut(
        id=product.id,
        slug=product.slug,
        name=product.name,
        brand=product.brand,
        currency=product.currency,
        price_min=product.price_min,
        price_max=product.price_max,
        in_stock=product.in_stock,
        image=image_out(image) if image is not None else None,
    )


@operation(
    bp,
    "GET",
    "/products",
    summary="Published products: search, filter, sort, cursor pages",
    description=(
        "The storefront's filters and sort orders. Unusable filter values are ignored and "
        "explained in `notices`. Follow `next_cursor` until it is null."
    ),
    query=ProductListQuery,
    responses={200: ProductPageOut, 304: None, 400: Problem},
    tags=["catalog"],
)
def products(query: ProductListQuery) -> Response:
    offset, limit = 0, query.limit
    if query.cursor is not None:
        try:
            offset, limit = decode_cursor(query.cursor)
        except CursorError:
            return problem(400, "The cursor is not one this API gave out.", code="invalid-cursor")
    params = ListingParams.from_args(request.args)
    params = replace(params, per_page=limit, page=offset // limit + 1)
    # A page of cards is the same for every client until the catalog changes (the version in
    # the key moves after each catalog commit), so it is built once and shared.
    key = "api:products:" + hashlib.sha256(params.cache_key().encode()).hexdigest()
    page = cached_value(key, lambda: _product_page(params, offset, limit))
    if params.q and query.cursor is None:
        record_search(params.q, page["total"])  # the first page of an app's search
    # Notices about this request's own filters are added outside the shared cache.
    return conditional_json({**page, "notices": [*params.messages, *page["notices"]]})


def _product_page(params: ListingParams, offset: int, limit: int) -> dict[str, Any]:
    page = list_products(params, get_category_tree())
    notices = []
    if page.search_ignored:
        notices.append("The search words could not be used, so they were ignored.")
    end = offset + limit
    next_cursor = (
        encode_cursor(end, limit) if end < page.total and end // limit < MAX_PAGE else None
    )
    return ProductPageOut(
        items=[_card(p) for p in page.products],
        next_cursor=next_cursor,
        total=page.total,
        notices=notices,
        brands=[BrandFacetOut(name=name, count=n) for name, n in page.brands],
        specifications=[
            SpecFacetOut(name=name, values=[SpecValueOut(value=v, count=n) for v, n in values])
            for name, values in page.spec_facets
        ],
        searched_for=page.params.q if page.corrected_from else None,
    ).model_dump(mode="json")


def _product_out(product: Product, tree: CategoryTree) -> ProductOut:
    node = tree.nodes.get(product.category_id) if product.category_id else None
    attributes: dict[str, Any] = dict(product.attributes or {})
    return ProductOut(
        id=product.id,
        slug=product.slug,
        name=product.name,
        brand=product.brand,
        description_html=product.description_html,
        description_text=product.description_text,
        category=node.slug_path if node else None,
        currency=product.currency,
        price_min=product.price_min,
        price_max=product.price_max,
        in_stock=product.in_stock,
        attributes=attributes,
        variants=[
            VariantOut(
                id=v.id,
                sku=v.sku,
                options={str(k): str(val) for k, val in (v.options or {}).items()},
                price=v.price,
                compare_at_price=v.compare_at_price,
                currency=v.currency,
                available=v.available,
                in_stock=v.is_available,
            )
            for v in product.variants
        ],
        images=[image_out(i) for i in product.images],
    )


@operation(
    bp,
    "GET",
    "/search/suggestions",
    summary="Suggestions while the shopper types: products, categories, brands",
    description=(
        "The storefront's search suggestions. Fewer than two characters give empty lists. "
        "Each word must start a word of what is suggested; products are matched like `q` in "
        "/products (forms of a word, the last word as a prefix)."
    ),
    query=SuggestionQuery,
    responses={200: SuggestionsOut, 304: None},
    tags=["catalog"],
)
def search_suggestions(query: SuggestionQuery) -> Response:
    found = suggest(query.q)
    return conditional_json(
        SuggestionsOut(
            query=found.query,
            products=[ProductSuggestionOut(**asdict(p)) for p in found.products],
            categories=[CategorySuggestionOut(**asdict(c)) for c in found.categories],
            brands=found.brands,
        )
    )


@operation(
    bp,
    "GET",
    "/products/<slug>",
    summary="One published product with its variants and images",
    responses={200: ProductOut, 304: None, 404: Problem},
    tags=["catalog"],
)
def product_detail(slug: str) -> Response:
    product = get_published_product_or_404(slug)
    return conditional_json(_product_out(product, get_category_tree()))


class BackInStockIn(Strict):
    variant_id: int = Field(ge=1, le=MAX_ID, description="The sold-out variant.")
    email: str = Field(
        default="",
        max_length=320,
        description="Where to write. Signed in (bearer token): may be left out, the "
        "account's address is used.",
    )


class BackInStockOut(BaseModel):
    variant_id: int
    email: str
    message: str


@operation(
    bp,
    "POST",
    "/products/<slug>/back-in-stock",
    summary="Ask to be e-mailed once when a sold-out variant is back in stock",
    description="The website's “Email me when it is back”. A variant in stock, or not of "
    "this product, is a 422; asking again after the e-mail went waits again.",
    body=BackInStockIn,
    responses={200: BackInStockOut, 401: Problem, 404: Problem, 422: Problem, 429: Problem},
    tags=["catalog"],
    optional_auth=True,
)
@limiter.limit("10 per minute; 30 per hour", key_func=limiter_key, override_defaults=False)
def back_in_stock(slug: str, body: BackInStockIn) -> Response:
    product = get_published_product_or_404(slug)
    user = None
    if "Authorization" in request.headers:
        failure = authenticate_request()
        if failure is not None:
            return failure
        user = current_api_user()
    email = user.email if user is not None else body.email
    try:
        if not any(v.id == body.variant_id for v in product.variants):
            raise WaitlistError("Choose an option of this product.", field="variant_id")
        variant = waitlist.ask(
            body.variant_id,
            email,
            user_id=user.id if user else None,
            account_email=user.email if user else "",
        )
    except WaitlistError as exc:
        return problem(422, str(exc), code=exc.code, errors={exc.field or "email": [str(exc)]})
    what = product.name + (f" ({variant.options_label})" if variant.options else "")
    return jsonify(
        BackInStockOut(
            variant_id=variant.id,
            email=email.strip().lower(),
            message=f"We will email you once when {what} is back in stock.",
        ).model_dump(mode="json")
    )

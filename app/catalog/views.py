"""Storefront catalog pages. One route serves the full page or, for htmx, the partial."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from app.catalog import bp
from app.catalog.cache import cached_value, catalog_version
from app.catalog.categories import category_redirect
from app.catalog.listing import PER_PAGE_CHOICES, SORTS, ListingParams
from app.catalog.media import image_url
from app.catalog.page_cache import anonymous_page
from app.catalog.queries import (
    CategoryNode,
    get_category_tree,
    get_published_product_or_404,
    get_variant_for_product,
    list_featured_products,
    list_products,
    list_related_products,
)
from app.catalog.search_stats import record_search
from app.catalog.suggestions import normalise, suggest
from app.catalog.variants import (
    chosen_options,
    names_options,
    option_groups,
    options_phrase,
    resolve,
    stock_level,
    stock_text,
)
from app.core.csrf import page_csrf_token
from app.core.html import summary
from app.core.numbers import parse_id
from app.core.templating import absolute_url
from app.extensions import htmx, limiter
from app.inventory import waitlist
from app.inventory.waitlist import WaitlistError
from app.reviews.services import approved_reviews, distribution
from app.wishlists.services import saved_ids

CSRF_HOLE = "__CSRF_TOKEN_HOLE__"
WISH_HOLE = re.compile(r"__WISH_([0-9]{1,10})__")
NOTICES_HOLE = "<!--listing-notices-->"


@bp.before_request
def _shared_csrf_for_anonymous_pages() -> None:
    """Catalog pages render no FlaskForm: a visitor with no session yet gets the shared
    token (app.core.csrf), so the page, and its ETag, is the same for every such visitor."""
    if request.method in ("GET", "HEAD"):
        g.shared_csrf_page = True


def _fill_holes(html: str, notices: tuple[str, ...] = ()) -> Markup:
    """Per-request values punched into shared fragments (nothing personal is ever cached):
    the visitor's CSRF token, and notices about the filters this request sent (a notice is
    about one visitor's URL, while the fragment is shared by every URL that means the same)."""
    html = html.replace(CSRF_HOLE, page_csrf_token())
    html = _fill_wishlist(html)
    if NOTICES_HOLE in html:
        rendered = "".join(f'<p class="flash flash-warning">{escape(n)}</p>' for n in notices)
        html = html.replace(NOTICES_HOLE, rendered, 1)
    return Markup(html)  # noqa: S704 - our own rendered HTML, notices escaped


def _fill_wishlist(html: str) -> str:
    """Each wishlist button's pressed state, for this visitor (one query for the page)."""
    wanted = {int(m) for m in WISH_HOLE.findall(html)}
    if not wanted:
        return html
    mine = saved_ids(current_user.id, sorted(wanted)) if current_user.is_authenticated else set()
    return WISH_HOLE.sub(lambda m: "true" if int(m[1]) in mine else "false", html)


def _conditional(body: str, *, partial: bool = False, etag: str | None = None) -> BaseResponse:
    """A page response revalidated by ETag. The tag hashes the whole rendered page — catalog
    fragment, header, mini-cart, flash messages, the visitor's CSRF token — so a 304 can never
    hide a change that matters to this visitor. Pages are private to the browser; the shared
    cache holds only the catalog fragments, which is where the work is saved."""
    response = make_response(body)
    if etag is None:
        digest = hashlib.blake2b(body.encode(), digest_size=12).hexdigest()
        etag = f"{digest}-{'p' if partial else 'f'}"
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "HX-Request, HX-Target, Cookie"
    if not session:
        # Without a session the page is the catalog's alone, and the catalog's version says
        # when it last changed. With one, the cart, sign-in and messages change it too, with
        # no date to tell: those visitors revalidate by ETag only, so that If-Modified-Since
        # can never answer 304 to a page whose cart has changed.
        response.last_modified = _version_time()
    if "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers:
        return response
    return response.make_conditional(request)  # its Date goes: app.core.security


def _public(response: Response) -> Response:
    """Robots and sitemaps are the same for everyone: any cache may keep them an hour."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _version_time() -> datetime:
    try:
        return datetime.fromtimestamp(float(catalog_version()), UTC)
    except ValueError:
        return datetime.now(UTC)


def _listing_response(params: ListingParams, template: str, **page_context: object) -> BaseResponse:
    tree = get_category_tree()
    if (
        params.category
        and tree.by_path(params.category) is None
        and template.endswith("category.html")
    ):
        abort(404)

    def render() -> tuple[str, int]:
        page = list_products(params, tree)
        html = render_template(
            "catalog/partials/results.html",
            page=page,
            tree=tree,
            csrf_hole=CSRF_HOLE,
            base_endpoint=page_context.get("base_endpoint", "catalog.list_products"),
            base_args=page_context.get("base_args", {}),
        )
        return html, page.total

    # Cached with its total (the search statistics need it on every request, hit or miss).
    results_key = "listing:v2:" + params.cache_key()
    if htmx and htmx.target == "results" and not htmx.history_restore_request:
        results, total = cached_value(results_key, render)
        _count_search(params, total)
        return _conditional(_fill_holes(results, params.messages), partial=True)

    def render_content() -> tuple[str, int]:
        results, total = cached_value(results_key, render)
        html = render_template(
            template.replace("catalog/", "catalog/partials/").replace(".html", "_content.html"),
            params=params,
            tree=tree,
            results=Markup(results),  # noqa: S704 - our own HTML
            sorts=SORTS,
            per_page_choices=PER_PAGE_CHOICES,
            **page_context,
        )
        return html, total

    # The whole content (filters and results) is shared; only the shell is per request.
    content, total = cached_value(f"content:v2:{template}:{params.cache_key()}", render_content)
    _count_search(params, total)
    content = _fill_holes(content, params.messages)
    body = render_template(template, params=params, content=content, **page_context)
    return _conditional(body)


def _count_search(params: ListingParams, total: int) -> None:
    """A search for the staff's statistics: its first page, submitted or typed — not a page
    turn, nor a filter or sort changed on the same words (an htmx request from a page that
    already showed them: its HX-Current-URL has the same ``q``)."""
    if not params.q or params.page != 1 or htmx.history_restore_request:
        return
    if htmx and htmx.current_url:
        shown = parse_qs(urlsplit(htmx.current_url).query).get("q", [""])[0]
        if " ".join(shown.split()).lower() == params.q.lower():
            return
    record_search(params.q, total)
    g.counted_search = (params.q, total)  # a cached copy of this page counts it again


def _for_anonymous(
    *params: str,
) -> Callable[[Callable[..., BaseResponse]], Callable[..., BaseResponse]]:
    """The whole page from the cache for visitors without a session (app.catalog.page_cache);
    ``params``: the query parameters the page reads."""

    def decorate(view: Callable[..., BaseResponse]) -> Callable[..., BaseResponse]:
        return anonymous_page(
            view, lambda body, etag: _conditional(body, etag=etag), frozenset(params)
        )

    return decorate


LISTING_PARAMS = ListingParams.QUERY_NAMES


@bp.get("/")
@_for_anonymous()
def home() -> BaseResponse:
    def render() -> str:
        tree = get_category_tree()
        return render_template(
            "catalog/partials/home_sections.html",
            featured=list_featured_products(8),
            categories=tree.roots,
            csrf_hole=CSRF_HOLE,
        )

    sections = cached_value("home", render)
    return _conditional(render_template("catalog/home.html", sections=_fill_holes(sections)))


@bp.get("/products", endpoint="list_products")
@_for_anonymous(*LISTING_PARAMS, "category")
def listing() -> BaseResponse:
    params = ListingParams.from_args(request.args)
    return _listing_response(params, "catalog/list.html")


@bp.get("/search/suggestions")
def search_suggestions() -> BaseResponse:
    """The header search's suggestions (an htmx fragment for its combobox). Opened as a
    page — no JavaScript, a shared link — it is the search itself."""
    query = normalise(request.args.get("q", ""))
    if not htmx:
        target = (
            url_for("catalog.list_products", q=query) if query else url_for("catalog.list_products")
        )
        return redirect(target)
    found = suggest(query)  # fragments are never stored (app/core/security.py)
    return make_response(render_template("catalog/partials/suggestions.html", found=found))


@bp.get("/c/<path:category_path>")
@_for_anonymous(*LISTING_PARAMS)
def category(category_path: str) -> BaseResponse:
    tree = get_category_tree()
    node = tree.by_path(category_path.strip("/"))
    if node is None:
        moved_to = category_redirect(category_path.strip("/"))
        if moved_to is None:
            abort(404)
        query = request.query_string.decode()
        target = url_for("catalog.category", category_path=moved_to)
        return redirect(f"{target}?{query}" if query else target, 301)
    params = ListingParams.from_args(request.args, category=node.slug_path)
    return _listing_response(
        params,
        "catalog/category.html",
        category=node,
        breadcrumbs=tree.ancestors(node),
        subcategories=tree.children_of(node.id),
        base_endpoint="catalog.category",
        base_args={"category_path": node.slug_path},
    )


@bp.get("/products/<slug>")
@_for_anonymous("variant")
def product_detail(slug: str) -> BaseResponse:
    variant_id = parse_id(request.args.get("variant"))
    partial = bool(htmx and htmx.target == "variant-panel")
    shown_at = None
    if names_options(request.args):
        # Option values chosen in the picker: the variant they mean has one address, so
        # pages (and their cache entries) stay keyed by variant id.
        product = get_published_product_or_404(slug)
        current = get_variant_for_product(product, variant_id)
        chosen = resolve(product.variants, current, chosen_options(product.variants, request.args))
        variant_id = chosen.id if chosen else None
        shown_at = url_for("catalog.product_detail", slug=product.slug, variant=variant_id)
        if not partial:
            return redirect(shown_at, 303)

    def render() -> dict[str, str]:
        product = get_published_product_or_404(slug)
        variant = get_variant_for_product(product, variant_id)
        if partial:
            body = render_template(
                "catalog/partials/variant_response.html",
                product=product,
                variant=variant,
                csrf_hole=CSRF_HOLE,
            )
            return {"body": body}
        tree = get_category_tree()
        node = tree.nodes.get(product.category_id) if product.category_id else None
        canonical = url_for("catalog.product_detail", slug=product.slug, _external=True)
        body = render_template(
            "catalog/partials/product_body.html",
            product=product,
            variant=variant,
            breadcrumbs=tree.ancestors(node) if node else [],
            category=node,
            related=list_related_products(product),
            csrf_hole=CSRF_HOLE,
            canonical_url=canonical,
            reviews=approved_reviews(product.id) if product.rating_count else [],
            stars=distribution(product.id) if product.rating_count else {},
        )
        image = product.primary_image
        return {
            "body": body,
            # Staff's own search title stands alone; the name gets the shop's after it.
            "title": product.meta_title or product.name,
            "own_title": "yes" if product.meta_title else "",
            "canonical_url": canonical,
            "description": product.meta_description
            or summary(product.description_text)
            or f"{product.name} at {current_app.config['SHOP_NAME']}.",
            "image": absolute_url(image_url(image, "large", "jpg")) if image else "",
        }

    key = f"product:{slug}:{variant_id}:{'panel' if partial else 'page'}"
    page = cached_value(key, render)
    body = _fill_holes(page["body"])
    if partial:
        response = _conditional(body, partial=True)
        if shown_at:
            response.headers["HX-Push-Url"] = shown_at
        return response
    return _conditional(render_template("catalog/product.html", page=page, body=body))


@bp.post("/products/<slug>/choose")
def choose_variant(slug: str) -> BaseResponse:
    """Without JavaScript: "Show this option" sends the ticked options; the page of the
    variant they mean answers (POST, because the form also carries the CSRF token)."""
    product = get_published_product_or_404(slug)
    current = get_variant_for_product(product, parse_id(request.form.get("variant_id")))
    chosen = resolve(product.variants, current, chosen_options(product.variants, request.form))
    target = url_for(
        "catalog.product_detail", slug=product.slug, variant=chosen.id if chosen else None
    )
    return redirect(target, 303)


@bp.post("/products/<slug>/back-in-stock")
@limiter.limit("10 per minute; 30 per hour")
def back_in_stock(slug: str) -> BaseResponse:
    """ "Email me when it is back" for a sold-out option. With htmx the answer goes beside
    the form; without JavaScript, back to the product page with the message flashed."""
    product = get_published_product_or_404(slug)
    variant = get_variant_for_product(product, parse_id(request.form.get("variant_id")))
    try:
        if variant is None:
            raise WaitlistError("Choose a product option first.", field="variant_id")
        signed_in = current_user.is_authenticated
        waitlist.ask(
            variant.id,
            request.form.get("email", ""),
            user_id=current_user.id if signed_in else None,
            account_email=current_user.email if signed_in else "",
        )
    except WaitlistError as exc:
        message, category = str(exc), "error"
    else:
        what = product.name + (f" ({variant.options_label})" if variant.options else "")
        message, category = f"We will email you once when {what} is back in stock.", "success"
    if htmx:
        css = "field-error" if category == "error" else "notify-done"
        return make_response(f'<p class="{css}">{escape(message)}</p>')
    flash(message, category)
    target = url_for(
        "catalog.product_detail", slug=product.slug, variant=variant.id if variant else None
    )
    return redirect(target, 303)


@bp.get("/robots.txt")
def robots_txt() -> Response:
    lines = [
        "User-agent: *",
        "Disallow: /cart",
        "Disallow: /checkout",
        "Disallow: /account",
        "Disallow: /admin",
        "Disallow: /api/",
        "Disallow: /products?*q=",
        f"Sitemap: {url_for('catalog.sitemap_index', _external=True)}",
        "",
    ]
    return _public(Response("\n".join(lines), mimetype="text/plain"))


SITEMAP_PAGE_SIZE = 20_000


@bp.get("/sitemap.xml")
def sitemap_index() -> Response:
    from app.catalog.queries import count_published_products

    pages = max(1, -(-count_published_products() // SITEMAP_PAGE_SIZE))
    body = render_template(
        "catalog/sitemap_index.xml",
        pages=pages,
        now=format_datetime(datetime.now(UTC), usegmt=True),
    )
    return _public(Response(body, mimetype="application/xml"))


@bp.get("/sitemap-categories.xml")
def sitemap_categories() -> Response:
    tree = get_category_tree()
    body = render_template("catalog/sitemap_categories.xml", categories=tree.flattened())
    return _public(Response(body, mimetype="application/xml"))


@bp.get("/sitemap-products-<int:page>.xml")
def sitemap_products(page: int) -> Response:
    from app.catalog.queries import iter_published_product_slugs

    if page < 1 or page > 10_000:
        abort(404)
    rows = iter_published_product_slugs((page - 1) * SITEMAP_PAGE_SIZE, SITEMAP_PAGE_SIZE)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n',
    ]
    for slug, updated_at in rows:
        loc = escape(url_for("catalog.product_detail", slug=slug, _external=True))
        parts.append(f"<url><loc>{loc}</loc><lastmod>{updated_at:%Y-%m-%d}</lastmod></url>\n")
    parts.append("</urlset>\n")
    return Response("".join(parts), mimetype="application/xml")


bp.add_app_template_global(option_groups, "variant_option_groups")
bp.add_app_template_global(options_phrase, "variant_options_phrase")
bp.add_app_template_global(stock_level, "stock_level")
bp.add_app_template_global(stock_text, "stock_text")


@bp.app_template_global("listing_url")
def listing_url(
    endpoint: str, base_args: dict[str, Any], params: ListingParams, **overrides: Any
) -> str:
    include_category = endpoint == "catalog.list_products"
    return url_for(
        endpoint, **base_args, **params.query_args(include_category=include_category, **overrides)
    )


@bp.app_context_processor
def _catalog_nav() -> dict[str, object]:
    def nav_categories() -> list[CategoryNode]:
        try:
            return get_category_tree().roots[:8]
        except Exception:  # the header must render even when the database is down
            current_app.logger.warning("category navigation unavailable", exc_info=True)
            return []

    return {"nav_categories": nav_categories}

"""Jinja filters and globals shared by every page."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_currency, get_currency_precision
from flask import Flask, current_app, g, url_for

from app.core.html import summary

HTMX_VERSION = "2.0.11"
PICO_VERSION = "2.1.1"


def money(amount_minor: int | None, currency: str = "EUR", locale: str = "en_IE") -> str:
    """Format integer minor units (cents) for display; the only place money becomes text."""
    if amount_minor is None:
        return ""
    return _money(int(amount_minor), currency, locale)


@lru_cache(maxsize=8192)
def _money(amount_minor: int, currency: str, locale: str) -> str:
    """Babel parses the locale's pattern on every call (~0.2 ms); a page shows the same few
    prices many times, and the text of an amount never changes."""
    exponent = get_currency_precision(currency)
    value = Decimal(amount_minor).scaleb(-exponent)
    return format_currency(value, currency, locale=locale)


def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """A static URL with a content hash, so files can be cached for a year. Computed once per
    file and process outside development (files do not change under a running release); in
    development once per version of the file (a stat, not a hash, per page)."""
    urls: dict[object, str] = current_app.extensions.setdefault("shop_asset_urls", {})
    key: object = filename
    path = Path(current_app.static_folder or "") / filename
    if current_app.config["SHOP_ENV"] == "development":
        try:
            stat = path.stat()
            key = (filename, stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (filename, None)
    if key in urls:
        return urls[key]
    try:
        version = _file_digest(str(path))
    except FileNotFoundError:
        version = "missing"
    url = urls[key] = url_for("static", filename=filename, v=version)
    return url


def shop_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) moment in the store's timezone (Settings), with the zone's abbreviation
    when the format shows a time, so staff read every page in one clock."""
    if moment is None:
        return ""
    if "shop_zone" not in g:
        from app.store.settings import store_details

        g.shop_zone = store_details().tzinfo
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(g.shop_zone)
    text = local.strftime(fmt)
    return f"{text} {local.tzname()}" if "%H" in fmt else text


def footer_pages() -> list[tuple[str, str]]:
    """The shop's own pages for the footer, by their standard titles (no query per page:
    the footer is on every page, and a renamed page keeps its address)."""
    from app.pages.services import PAGES

    return [(slug, title) for slug, (title, _) in PAGES.items()]


def stars_text(rating: float | int | None) -> str:
    """ "★★★★☆" for 4 (and 4.3): whole stars, rounded half up; decoration only."""
    full = int((rating or 0) + 0.5)
    return "★" * full + "☆" * (5 - full)


def review_ld(review: Any) -> dict[str, Any]:
    """A review as schema.org's Review, for the product's JSON-LD."""
    return {
        "@type": "Review",
        "reviewRating": {"@type": "Rating", "ratingValue": review.rating, "bestRating": 5},
        "author": {"@type": "Person", "name": review.author_name},
        "datePublished": review.created_at.date().isoformat(),
        "name": review.title,
        "reviewBody": review.body[:1000],
    }


def absolute_url(url: str) -> str:
    """``url`` as an absolute address (for JSON-LD and social cards): a path gets this
    request's scheme and host, which ProxyFix has already taken from the proxy."""
    if url.startswith(("https://", "http://")):
        return url
    from flask import request

    return request.host_url.rstrip("/") + "/" + url.lstrip("/")


def register_template_helpers(app: Flask) -> None:
    from app.accounts.profile import country_name
    from app.core.redirects import here_for_next

    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["summary"] = summary
    app.jinja_env.globals["country_name"] = country_name
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["shop_time"] = shop_time
    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["here_for_next"] = here_for_next
    app.jinja_env.globals["footer_pages"] = footer_pages
    app.jinja_env.globals["htmx_version"] = HTMX_VERSION
    app.jinja_env.globals["pico_version"] = PICO_VERSION
    app.jinja_env.globals["stars_text"] = stars_text
    app.jinja_env.globals["absolute_url"] = absolute_url
    app.jinja_env.filters["review_ld"] = review_ld

    @app.context_processor
    def _shop_context() -> dict[str, object]:
        return {
            "shop_name": current_app.config["SHOP_NAME"],
            # Lets shared templates link to a domain's pages only once that domain exists.
            "endpoint_names": current_app.view_functions,
        }

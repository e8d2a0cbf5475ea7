"""Whole catalog pages for anonymous visitors, from the shared cache.

A visitor with no session and no remember-me cookie (a first visit, a crawler, a CDN) sees a
page that depends on nothing but its URL and the catalog: the mini-cart is empty, there are
no messages, nobody is signed in, and the forms carry the shared hourly CSRF token
(app.core.csrf). So the rendered page itself is cached, under the catalog version (any change
to products, prices, stock, categories, reviews or delivery bumps it after its commit, as for
the fragments) and the token's hour, and the next such visitor gets it without a template
being rendered. A page is only stored when the request proved it anonymous: a 200 with no
cookie set, the session still empty and only the shared token used. Everyone else gets the
fragment-cached page as before; htmx requests too (their answer depends on more headers).

Each process also keeps the pages it served last (``LOCAL_PAGES``, keyed by the same
versioned key, so a catalog change still reaches it at once): a hit then costs one small
read of the catalog version instead of fetching and unpickling the whole page from Redis.

A cached search page still counts in the search statistics (app.catalog.search_stats).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request, session
from werkzeug.wrappers import Response as BaseResponse

from app.catalog.cache import cached_get, cached_set, versioned_key
from app.catalog.search_stats import record_search
from app.core.csrf import BUCKET_SECONDS

MAX_QUERY_BYTES = 512  # longer query strings are rendered, not stored
LOCAL_PAGES = 128  # per process: about 8 MB of the most recently served pages
REPEATABLE = frozenset({"spec"})

Entry = tuple[str, str, tuple[str, int] | None]  # body, ETag, the search it counted
_local: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
_local_lock = threading.Lock()


def _local_get(key: str) -> Entry | None:
    with _local_lock:
        found = _local.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del _local[key]
            return None
        _local.move_to_end(key)
        return found[1]


def _local_put(key: str, value: Entry) -> None:
    lifetime = current_app.config["CACHE_TTL_SECONDS"]  # as long as the shared copy at most
    with _local_lock:
        _local[key] = (time.monotonic() + lifetime, value)
        _local.move_to_end(key)
        while len(_local) > LOCAL_PAGES:
            _local.popitem(last=False)


def clear_local() -> None:
    with _local_lock:
        _local.clear()


def _key(params: frozenset[str]) -> str | None:
    """The page's key, or None when this request must be rendered: not anonymous, htmx, or a
    query string with a parameter the page does not read (junk and tracking parameters
    would each make another copy: they are rendered, from the fragment cache, not stored)."""
    if request.method not in ("GET", "HEAD") or "HX-Request" in request.headers:
        return None
    cookies = request.cookies
    config = current_app.config
    remember = config.get("REMEMBER_COOKIE_NAME", "remember_token")  # Flask-Login's default
    if config["SESSION_COOKIE_NAME"] in cookies or remember in cookies:
        return None
    if len(request.query_string) > MAX_QUERY_BYTES:
        return None
    for name, values in request.args.lists():
        if name not in params or (len(values) > 1 and name not in REPEATABLE):
            return None
    hour = int(time.time() // BUCKET_SECONDS)  # the shared CSRF token in the page
    # The host too: absolute links in the page (canonical, Open Graph, JSON-LD) are built
    # from it, so a request with a forged Host can only ever get its own copy.
    where = f"{request.host_url}{request.path[1:]}?{request.query_string.decode('latin-1')}"
    return versioned_key(f"page:v2:{hour}:{where}")


def _shareable(response: BaseResponse) -> bool:
    return (
        response.status_code == 200
        and not response.is_streamed
        and "Set-Cookie" not in response.headers
        and not session
        and bool(g.get("shared_csrf_page"))
        and "csrf_token" not in g  # no per-session token was made for this page
    )


def anonymous_page(
    view: Callable[..., BaseResponse],
    respond: Callable[[str, str], BaseResponse],
    params: frozenset[str] = frozenset(),
) -> Callable[..., BaseResponse]:
    """Serve ``view``'s page from the cache to anonymous visitors; ``respond(body, etag)``
    turns a cached page into the response (validators, caching headers), as the view does;
    ``params``: the query parameters the page reads."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> BaseResponse:
        key = _key(params)
        if key is None:
            return view(*args, **kwargs)
        hit = _local_get(key)
        if hit is None:
            hit = cached_get(key)
            if hit is not None:
                _local_put(key, hit)
        if hit is not None:
            body, etag, searched = hit
            if searched:
                record_search(*searched)
            return respond(body, etag)
        response = view(*args, **kwargs)
        etag, _ = response.get_etag()
        if etag and _shareable(response):
            entry = (response.get_data(as_text=True), etag, g.get("counted_search"))
            cached_set(key, entry)
            _local_put(key, entry)
        return response

    return wrapper

"""Shared cache for rendered catalog fragments.

Keys carry a catalog version; any change to products, variants, prices, stock or categories
bumps the version after its transaction commits, so every cached fragment is invalidated at
once and no stale page outlives the change. What cannot show stock (the category tree,
brands, search synonyms) is kept under a second, structure version that stock changes leave
alone (and price changes too): in a sale every order moves stock, and the navigation need not
be rebuilt each time. Redis is shared by all instances; without Redis
each process keeps its own small cache (then another process may serve a fragment for up to
``CACHE_TTL_SECONDS`` after a change).

Catalog fragments are cached for everyone; the header, mini-cart, flash messages and CSRF
token are rendered for each request, so nothing personal is ever shared. Whole pages are
cached only for anonymous visitors, whose pages hold nothing personal (app.catalog.page_cache).

A cache outage never takes the shop down: pages are rendered instead, and after one failure
the breaker skips Redis for ``REDIS_RETRY_SECONDS`` so a hung Redis costs one timeout, not
one per fragment (see app.core.redis).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, has_request_context, request

from app.core.redis import Breaker
from app.db import after_commit
from app.extensions import cache

log = logging.getLogger(__name__)
VERSION_KEY = "catalog:version"  # any change to what the catalog shows
STRUCTURE_KEY = "catalog:structure"  # any change but stock
T = TypeVar("T")
breaker = Breaker("the catalog cache")


def _get(key: str) -> Any:
    if not breaker.allows():
        return None
    try:
        value = cache.get(key)
    except Exception as exc:  # a cache outage must not take the shop down
        _failed(exc)
        return None
    if breaker.succeeded():
        # Back after an outage: changes made meanwhile could not bump the version, so
        # whatever was cached before is stale. Start afresh.
        _safe_set(VERSION_KEY, f"{time.time():.6f}", timeout=0)
        _safe_set(STRUCTURE_KEY, f"{time.time():.6f}", timeout=0)
        return None
    return value


def _failed(exc: Exception) -> None:
    breaker.retry_after = current_app.config["REDIS_RETRY_SECONDS"]
    log.warning("cache unavailable: %s", type(exc).__name__)
    breaker.failed()


def _version(key: str, name: str) -> str:
    if name not in g:
        version = _get(key)
        if version is None:
            version = f"{time.time():.6f}"
            _safe_set(key, version, timeout=0)
        setattr(g, name, version)
    return str(getattr(g, name))


def catalog_version() -> str:
    return _version(VERSION_KEY, "catalog_version")


def structure_version() -> str:
    return _version(STRUCTURE_KEY, "catalog_structure_version")


def catalog_changed(*, structure: bool = True) -> None:
    """Invalidate cached catalog fragments once the current transaction commits.
    ``structure=False``: only prices or stock changed (the structure version, and what is
    cached under it, stays)."""
    after_commit(bump_catalog_version, key="catalog:version")
    if structure:
        after_commit(bump_structure_version, key="catalog:structure")


def bump_catalog_version() -> None:
    _safe_set(VERSION_KEY, f"{time.time():.6f}", timeout=0)
    g.pop("catalog_version", None)


def bump_structure_version() -> None:
    _safe_set(STRUCTURE_KEY, f"{time.time():.6f}", timeout=0)
    g.pop("catalog_structure_version", None)


def _versioned_key(key: str, *, stock: bool = True) -> str:
    # Per host as well: rendered fragments hold absolute links (canonical, JSON-LD, Open
    # Graph) built from the request's host, so a request with a forged Host header only
    # ever fills, and gets, its own copies (TRUSTED_HOSTS refuses such requests outright).
    host = request.host_url if has_request_context() else ""
    digest = hashlib.sha256(f"{host}|{key}".encode()).hexdigest()[:32]
    if stock:
        return f"cat:{catalog_version()}:{digest}"
    return f"cat:s{structure_version()}:{digest}"


def cached_value(key: str, load: Callable[[], T], *, stock: bool = True) -> T:
    """A catalog value from the shared cache, loaded and stored on a miss. ``stock=False``:
    the value cannot show stock, so it is kept under the structure version."""
    full_key = _versioned_key(key, stock=stock)
    hit = _get(full_key)
    if hit is not None:
        return hit
    value = load()
    _safe_set(full_key, value, timeout=current_app.config["CACHE_TTL_SECONDS"])
    return value


def versioned_key(key: str) -> str:
    """``key`` under the current catalog version: another version, another key."""
    return _versioned_key(key)


def cached_get(full_key: str) -> Any:
    """The value stored under a :func:`versioned_key`, or None."""
    return _get(full_key)


def cached_set(full_key: str, value: Any) -> None:
    _safe_set(full_key, value, timeout=current_app.config["CACHE_TTL_SECONDS"])


def _safe_set(key: str, value: Any, timeout: int) -> None:
    if not breaker.allows():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:
        _failed(exc)

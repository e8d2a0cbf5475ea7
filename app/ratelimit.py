"""Rate-limit keys and the Redis-outage fallback.

Flask-Limiter falls back to per-process memory when its storage is unreachable
(``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``) and logs it; limits never switch off.
"""

from __future__ import annotations

from flask import request


def limiter_key() -> str:
    # ProxyFix (TRUSTED_PROXY_COUNT) has already resolved the client address.
    return request.remote_addr or "unknown"


def exempt_from_limits() -> bool:
    """Probes, metrics scrapes and static files are never throttled."""
    endpoint = request.endpoint or ""
    return endpoint in {"core.healthz", "core.readyz", "core.metrics"} or endpoint.endswith(
        "static"
    )

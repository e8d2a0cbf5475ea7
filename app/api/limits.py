"""Rate limits of the JSON API and their headers.

Two shared quotas cover every operation of the blueprint:

* ``API_RATELIMIT`` per user for requests with a well-signed access token, per IP otherwise
  (:func:`app.api.auth.api_limit_key`);
* ``API_RATELIMIT_PER_IP``, a ceiling per IP address even for signed-in requests, so one
  machine cannot spread a flood over many accounts. Generous, because mobile carriers put
  many phones behind one address.

Counters live in the limiter's storage (Redis when configured, shared by every instance).
API responses carry the IETF draft headers ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` (seconds) and ``RateLimit-Policy`` for the quota closest to running out,
instead of Flask-Limiter's ``X-RateLimit-*``, which web pages keep. A breach is a 429
problem (code ``too-many-requests``) with ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, Flask, Response, current_app, g, request

from app.extensions import limiter
from app.ratelimit import limiter_key

DEFAULT_USER_LIMIT = "120 per minute"
DEFAULT_IP_LIMIT = "600 per minute"
_LIMITER_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def user_limit() -> str:
    return current_app.config.get("API_RATELIMIT") or DEFAULT_USER_LIMIT


def ip_limit() -> str:
    return current_app.config.get("API_RATELIMIT_PER_IP") or DEFAULT_IP_LIMIT


def ip_key() -> str:
    return f"api-ceiling:{limiter_key()}"


def _preflight() -> bool:
    return request.method == "OPTIONS"  # CORS preflights carry no token and do no work


def limit_blueprint(bp: Blueprint) -> None:
    from app.api.auth import api_limit_key

    limiter.shared_limit(user_limit, scope="api", key_func=api_limit_key, exempt_when=_preflight)(
        bp
    )
    limiter.shared_limit(ip_limit, scope="api-ip", key_func=ip_key, exempt_when=_preflight)(bp)


def _keep_own_retry_after(response: Response) -> Response:
    """Runs before the limiter's hook, which stretches any Retry-After to its own window's
    reset (a 503's "30" became "59"): remember what the view said."""
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _rate_limit_headers(response: Response) -> Response:
    if response.status_code not in (429, 503):
        # Retry-After means "wait before asking again": only on a refusal (RFC 9110 §10.2.3),
        # never on an ordinary page, which the limiter would otherwise stamp with it.
        response.headers.pop("Retry-After", None)
    elif g.get("own_retry_after"):
        response.headers["Retry-After"] = g.own_retry_after
    if not request.path.startswith("/api/"):
        return response
    for name in _LIMITER_HEADERS:
        response.headers.pop(name, None)
    limits = limiter.current_limits if limiter.enabled else []
    if not limits:
        return response
    try:
        # The breached quota, else the one with the fewest requests left.
        tightest = min(limits, key=lambda lim: (not lim.breached, lim.remaining))
        reset_at, remaining = tightest.window  # (when the quota is whole again, left)
    except Exception:  # storage trouble: the limiter logs it; never fail a response over it
        return response
    response.headers["RateLimit-Limit"] = str(tightest.limit.amount)
    response.headers["RateLimit-Remaining"] = str(max(0, remaining))
    response.headers["RateLimit-Reset"] = str(max(0, math.ceil(reset_at - time.time())))
    response.headers["RateLimit-Policy"] = ", ".join(
        f"{lim.limit.amount};w={lim.limit.get_expiry()}" for lim in limits
    )
    return response


def register_rate_limit_headers(app: Flask) -> None:
    """Call before ``limiter.init_app``: after-request hooks run last-registered first, and
    this one must see the request's limits after the limiter has added its own headers."""
    app.after_request(_rate_limit_headers)


def register_retry_after_keeper(app: Flask) -> None:
    """Call after ``limiter.init_app``, so that it runs before the limiter's hook."""
    app.after_request(_keep_own_retry_after)

"""Rate-limit keys and the Redis-outage fallback.

Flask-Limiter falls back to per-process memory when its storage is unreachable
(``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``) and logs it; limits never switch off.
"""

from __future__ import annotations

from flask import request


def limiter_key() -> str:
    # ProxyFix (TRUSTED_PROXY_COUNT) has already resolved the client address.
    return request.remote_addr or "unknown"


# Anything that checks the account's password (changing it, the email address, deleting the
# account) shares one budget per account across the website and the API, so a stolen session
# or token cannot be used to guess the password, whichever door it comes through.
ACCOUNT_SECRETS_LIMIT = "10 per hour"
ACCOUNT_SECRETS_SCOPE = "account-secrets"


# Sign-in links by email: per address, across the website and the API, so nobody can flood
# someone's inbox (the client's own limit comes on top).
SIGN_IN_LINK_LIMIT = "3 per 15 minutes"
SIGN_IN_LINK_SCOPE = "sign-in-links"


def sign_in_link_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    email = data.get("email", "") if isinstance(data, dict) or data is request.form else ""
    return "sign-in-link:" + str(email)[:320].strip().lower()


# Voucher codes are guessable by trying: one budget per client across both doors.
VOUCHER_LIMIT = "10 per minute; 60 per hour"
VOUCHER_SCOPE = "voucher-codes"


def account_key() -> str:
    """The signed-in account on the website; the client address for anyone else."""
    from flask_login import current_user

    if current_user.is_authenticated:
        return f"account:{current_user.id}"
    return limiter_key()


def exempt_from_limits() -> bool:
    """Probes, metrics scrapes and static files are never throttled."""
    endpoint = request.endpoint or ""
    return endpoint in {"core.healthz", "core.readyz", "core.metrics"} or endpoint.endswith(
        "static"
    )

"""Configuration from the environment.

One place reads ``os.environ``. ``SHOP_ENV`` picks the profile:

* ``development`` (default): everything embedded under ``instance/`` (SQLite database,
  SQLite Huey queue, in-memory rate limits, email outbox, offline payment sandbox).
* ``testing``: like development, but Huey runs tasks immediately and hashing is cheap.
* ``production``: refuses to start unless every shared store and secret is configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("SHOP_INSTANCE_DIR", BASE_DIR / "instance"))

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The configuration cannot run the shop safely; the message says what to set."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 < value <= 60:
        raise ConfigError(f"{name} must be more than 0 and at most 60 seconds, got {raw!r}")
    return value


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")


def _origins(raw: str) -> list[str]:
    """``API_CORS_ORIGINS``: comma-separated ``scheme://host[:port]``, compared literally."""
    origins = [o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip()]
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ConfigError(
                f"API_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com "
                "(no paths, no wildcards)"
            )
    return origins


def _networks(raw: str) -> list[str]:
    """``METRICS_ALLOWED_IPS``: comma-separated addresses or CIDR networks, checked now so a
    typo stops the start instead of failing every scrape."""
    networks = [p.strip() for p in raw.split(",") if p.strip()]
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"METRICS_ALLOWED_IPS: {network!r} is not an address or network like 10.0.0.0/8"
            ) from exc
    return networks


STRIPE_API_VERSION = "2026-10-28.endive"  # the version stripe-python 16.1 is generated for
MIN_RESERVATION_MINUTES = 30  # Stripe: a Checkout Session lives 30 minutes to 24 hours
MAX_RESERVATION_MINUTES = 24 * 60 - 15  # leaves room for the margin added at creation


def _reservation_minutes(env: dict[str, str]) -> int:
    minutes = _int(env, "RESERVATION_MINUTES", MIN_RESERVATION_MINUTES)
    if not MIN_RESERVATION_MINUTES <= minutes <= MAX_RESERVATION_MINUTES:
        raise ConfigError(
            f"RESERVATION_MINUTES must be from {MIN_RESERVATION_MINUTES} to "
            f"{MAX_RESERVATION_MINUTES}: it is how long a Stripe Checkout Session stays open, "
            "which Stripe allows from 30 minutes to 24 hours"
        )
    return minutes


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` / ``postgresql://`` forms and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables (see README)."""
    env = dict(os.environ if env is None else env)
    shop_env = env.get("SHOP_ENV", "development").strip().lower() or "development"
    if shop_env not in ENVIRONMENTS:
        raise ConfigError(f"SHOP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {shop_env!r}")
    production = shop_env == "production"
    testing = shop_env == "testing"

    instance_dir = Path(env.get("SHOP_INSTANCE_DIR", INSTANCE_DIR))
    redis_url = env.get("REDIS_URL") or None
    database_url = normalise_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'shop.db'}"
    )

    cfg: dict[str, Any] = {
        "SHOP_ENV": shop_env,
        "SHOP_NAME": env.get("SHOP_NAME", "ShopSphere"),
        "INSTANCE_DIR": str(instance_dir),
        "DEBUG": _bool(env.get("FLASK_DEBUG")),
        "TESTING": testing,
        "SECRET_KEY": env.get("SECRET_KEY") or (None if production else DEV_SECRET_KEY),
        # Database
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url, env),
        "DB_PING_AFTER_IDLE_SECONDS": _float(env, "DB_PING_AFTER_IDLE_SECONDS", 1.0),
        "SQLALCHEMY_RECORD_QUERIES": False,
        # Redis: limiter storage, Huey queue, cache
        "REDIS_URL": redis_url,
        # Every Redis call answers within this, so a hung Redis fails fast like a dead one;
        # after a failure the cache skips Redis for REDIS_RETRY_SECONDS.
        "REDIS_TIMEOUT_SECONDS": _float(env, "REDIS_TIMEOUT_SECONDS", 0.25),
        "REDIS_RETRY_SECONDS": _float(env, "REDIS_RETRY_SECONDS", 5.0),
        # Requests and cookies
        # Static URLs carry a content hash (asset_url), so browsers may keep them a year.
        "SEND_FILE_MAX_AGE_DEFAULT": 0 if shop_env == "development" else 31536000,
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        "SESSION_COOKIE_NAME": "__Host-session" if production else "session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "TRUSTED_PROXY_COUNT": _int(env, "TRUSTED_PROXY_COUNT", 0),
        "HSTS_ENABLED": production,
        # CSRF (Flask-WTF): HTMX sends the token in X-CSRFToken
        "WTF_CSRF_ENABLED": _bool(env.get("WTF_CSRF_ENABLED"), True),
        "WTF_CSRF_TIME_LIMIT": _int(env, "WTF_CSRF_TIME_LIMIT", 4 * 3600),
        # Rate limits (Flask-Limiter)
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_DEFAULT": env.get("RATELIMIT_DEFAULT", "300 per minute"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # A moving window cannot be doubled by bursting either side of a window boundary.
        "RATELIMIT_STRATEGY": env.get("RATELIMIT_STRATEGY", "moving-window"),
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "shop"),
        # JSON API: per token (or IP) and a per-IP ceiling; browser origins allowed by CORS
        # (none by default: the mobile app does not need CORS); refresh-token clean-up.
        "API_RATELIMIT": env.get("API_RATELIMIT", "120 per minute"),
        "API_RATELIMIT_PER_IP": env.get("API_RATELIMIT_PER_IP", "600 per minute"),
        "API_CORS_ORIGINS": _origins(env.get("API_CORS_ORIGINS", "")),
        "API_TOKEN_RETENTION_DAYS": _int(env, "API_TOKEN_RETENTION_DAYS", 30),
        # Huey
        "HUEY_NAME": env.get("HUEY_NAME", "shopsphere"),
        "HUEY_SQLITE_PATH": env.get("HUEY_SQLITE_PATH", str(instance_dir / "huey.db")),
        "HUEY_IMMEDIATE": _bool(env.get("HUEY_IMMEDIATE"), testing),
        # Observability
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": env.get("LOG_FORMAT", "json" if production else "text"),
        # Identical warnings/errors are written once per this many seconds, with a count.
        "LOG_REPEAT_SECONDS": _int(env, "LOG_REPEAT_SECONDS", 60),
        "METRICS_ENABLED": _bool(env.get("METRICS_ENABLED"), True),
        # Scrapers: addresses/networks and/or a bearer token. In production /metrics answers
        # nobody (404) until one of them is set; elsewhere anyone may read it.
        "METRICS_ALLOWED_IPS": _networks(env.get("METRICS_ALLOWED_IPS", "")),
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # Integrations (used by later domains; validated here so production fails fast)
        "PAYMENT_PROVIDER": env.get("PAYMENT_PROVIDER", "stripe" if production else "sandbox"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY") or None,
        # The sandbox signs its events like Stripe does, with this development-only secret.
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET")
        or (None if production else "whsec_sandbox_development_only"),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE") or None,
        # Every request names this API version instead of taking the account's default, which
        # changes when someone upgrades it in the dashboard. Bump it with the SDK, on purpose.
        "STRIPE_API_VERSION": env.get("STRIPE_API_VERSION") or STRIPE_API_VERSION,
        "MAIL_BACKEND": env.get("MAIL_BACKEND", "outbox"),
        "MAIL_FROM": env.get("MAIL_FROM", "ShopSphere <shop@localhost>"),
        "SMTP_HOST": env.get("SMTP_HOST", "localhost"),
        "SMTP_PORT": _int(env, "SMTP_PORT", 25),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_SECURITY": env.get("SMTP_SECURITY", "none"),
        "BREVO_API_KEY": env.get("BREVO_API_KEY") or None,
        "BREVO_API_BASE": env.get("BREVO_API_BASE", "https://api.brevo.com/v3"),
        # The bearer token set on the Brevo webhook (Brevo does not sign its payloads).
        "BREVO_WEBHOOK_TOKEN": env.get("BREVO_WEBHOOK_TOKEN") or None,
        "SMS_BACKEND": env.get("SMS_BACKEND", "outbox"),
        "WHATSAPP_BACKEND": env.get("WHATSAPP_BACKEND", "outbox"),
        "SMS_SENDER": env.get("SMS_SENDER", "ShopSphere"),
        "WHATSAPP_SENDER": env.get("WHATSAPP_SENDER", ""),
        "NOTIFY_HTTP_TIMEOUT": float(env.get("NOTIFY_HTTP_TIMEOUT", "10")),
        "NOTIFY_MAX_ATTEMPTS": _int(env, "NOTIFY_MAX_ATTEMPTS", 6),
        "NOTIFY_BACKOFF_SECONDS": _int(env, "NOTIFY_BACKOFF_SECONDS", 30),
        "NOTIFY_SENDING_TIMEOUT": _int(env, "NOTIFY_SENDING_TIMEOUT", 600),
        "STAFF_ALERT_EMAILS": [
            a.strip() for a in env.get("STAFF_ALERT_EMAILS", "").split(",") if a.strip()
        ],
        "SHOP_BASE_URL": (env.get("SHOP_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        # Passkeys: the relying party (a domain, never an IP) and the origins allowed to use
        # it; by default the host and origin of SHOP_BASE_URL (app/accounts/passkeys.py).
        "PASSKEY_RP_ID": env.get("PASSKEY_RP_ID", ""),
        "PASSKEY_ORIGINS": [
            o.strip().rstrip("/") for o in env.get("PASSKEY_ORIGINS", "").split(",") if o.strip()
        ],
        # Host names the shop answers to (Flask refuses others with 400): pages build their
        # absolute links (canonical, Open Graph, JSON-LD) from the request's host, and cached
        # catalog fragments keep them. Unset: any host (put the proxy's server_name in front).
        "TRUSTED_HOSTS": [h.strip() for h in env.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
        or None,
        # Accounts
        "PASSWORD_MIN_LENGTH": _int(env, "PASSWORD_MIN_LENGTH", 8),
        "PASSWORD_MAX_LENGTH": 256,
        "PASSWORD_MIN_SCORE": _int(env, "PASSWORD_MIN_SCORE", 3),
        # Argon2id (RFC 9106 second recommended option); tests use cheap parameters.
        "ARGON2_TIME_COST": 1 if testing else _int(env, "ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": 8 if testing else _int(env, "ARGON2_MEMORY_COST", 65536),
        "LOCKOUT_THRESHOLD": _int(env, "LOCKOUT_THRESHOLD", 5),
        "LOCKOUT_MINUTES": _int(env, "LOCKOUT_MINUTES", 30),
        "SESSION_IDLE_MINUTES": _int(env, "SESSION_IDLE_MINUTES", 120),
        "SESSION_ABSOLUTE_HOURS": _int(env, "SESSION_ABSOLUTE_HOURS", 12),
        "REMEMBER_DAYS": _int(env, "REMEMBER_DAYS", 30),
        "PERMANENT_SESSION_LIFETIME": 86400 * _int(env, "REMEMBER_DAYS", 30),
        "VERIFY_TOKEN_HOURS": 24,
        "RESET_TOKEN_MINUTES": 60,
        "SHOP_DEFAULT_REGION": (env.get("SHOP_DEFAULT_REGION") or "GB").upper(),
        # How long a shopper has to pay: the Checkout Session's life (Stripe allows 30 min to
        # 24 h), and the stock reservation lasts a little longer.
        "RESERVATION_MINUTES": _reservation_minutes(env),
        "WEBHOOK_MAX_ATTEMPTS": _int(env, "WEBHOOK_MAX_ATTEMPTS", 8),
        "STRIPE_TIMEOUT_SECONDS": float(env.get("STRIPE_TIMEOUT_SECONDS", "10")),
        # Cart
        "CART_MAX_LINES": _int(env, "CART_MAX_LINES", 50),
        "CART_MAX_QUANTITY": _int(env, "CART_MAX_QUANTITY", 10),
        "GUEST_CART_DAYS": _int(env, "GUEST_CART_DAYS", 7),
        "USER_CART_DAYS": _int(env, "USER_CART_DAYS", 30),
        # A signed-in shopper's cart idle this long gets one reminder (if they agreed to
        # marketing e-mail); carts idle longer than the second figure are left alone.
        "CART_RECOVERY_HOURS": _int(env, "CART_RECOVERY_HOURS", 6),
        "CART_RECOVERY_MAX_DAYS": _int(env, "CART_RECOVERY_MAX_DAYS", 7),
        # Days after delivery before a customer who agreed to marketing e-mail is asked
        # for a review of what they bought (once per order).
        "REVIEW_REQUEST_DAYS": _int(env, "REVIEW_REQUEST_DAYS", 7),
        # Days after delivery within which customers may ask to return items.
        "RETURN_WINDOW_DAYS": _int(env, "RETURN_WINDOW_DAYS", 30),
        # Catalog fragment cache (Flask-Caching): Redis when configured, per-process otherwise
        "CACHE_TTL_SECONDS": _int(env, "CACHE_TTL_SECONDS", 60),
        "CACHE_TYPE": "RedisCache" if redis_url else "SimpleCache",
        "CACHE_REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": env.get("CACHE_KEY_PREFIX", "shop:"),
        "CACHE_DEFAULT_TIMEOUT": _int(env, "CACHE_TTL_SECONDS", 60),
        "CACHE_THRESHOLD": 2000,
        # PostgreSQL text search configuration (its stemmer and stop words); SQLite's FTS5
        # index stems English (Porter). Changing it: flask shop search-language --rebuild
        "SEARCH_LANGUAGE": env.get("SEARCH_LANGUAGE", "english").strip().lower(),
        # Search analytics: each process hands its tally to a task this often (0: at once)
        "SEARCH_STATS_FLUSH_SECONDS": _int(env, "SEARCH_STATS_FLUSH_SECONDS", 0 if testing else 30),
        "SHOP_CURRENCY": env.get("SHOP_CURRENCY", "EUR").upper(),
        # Product image files: a local folder, or S3-compatible storage for several instances
        "STORAGE_BACKEND": env.get("STORAGE_BACKEND", "local").strip().lower(),
        "MEDIA_ROOT": env.get("MEDIA_ROOT") or str(instance_dir / "media"),
        "MAX_IMAGE_BYTES": _int(env, "MAX_IMAGE_BYTES", 10 * 1024 * 1024),
        "MAX_PICTURE_BYTES": _int(env, "MAX_PICTURE_BYTES", 5 * 1024 * 1024),
        "S3_BUCKET": env.get("S3_BUCKET") or None,
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": env.get("S3_REGION") or None,
        "S3_ACCESS_KEY_ID": env.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": env.get("S3_SECRET_ACCESS_KEY") or None,
        "S3_PUBLIC_URL": (env.get("S3_PUBLIC_URL") or "").rstrip("/") or None,
    }
    if not re.fullmatch(r"[a-z_]{2,40}", cfg["SEARCH_LANGUAGE"]):
        raise ConfigError(
            "SEARCH_LANGUAGE must name a PostgreSQL text search configuration such as "
            f"english or german, got {cfg['SEARCH_LANGUAGE']!r}"
        )
    if production:
        check_production(cfg)
    return cfg


def _engine_options(database_url: str, env: dict[str, str]) -> dict[str, Any]:
    if database_url.startswith("sqlite"):
        # SQLite connections are cheap; busy_timeout and WAL are set per connection in db.py.
        return {"connect_args": {"timeout": 15}}
    return {
        # Tested before use only after sitting idle (app.db_engine.ping_after_idle), not
        # at every checkout.
        "pool_pre_ping": False,
        "pool_size": _int(env, "DB_POOL_SIZE", 10),
        "max_overflow": _int(env, "DB_MAX_OVERFLOW", 10),
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": _int(env, "DB_CONNECT_TIMEOUT", 5)},
    }


def check_production(cfg: dict[str, Any]) -> None:
    """Refuse settings that are fine on a laptop and dangerous behind a load balancer."""
    secret = cfg.get("SECRET_KEY")
    if not secret:
        raise ConfigError(
            "SECRET_KEY is not set; generate one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if secret == DEV_SECRET_KEY or len(secret) < 32:
        raise ConfigError("SECRET_KEY is the development default or shorter than 32 characters")
    if cfg["DEBUG"]:
        raise ConfigError("FLASK_DEBUG is on; the debugger must never run in production")
    if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError("DATABASE_URL is not set; production needs PostgreSQL, not SQLite")
    if not cfg["REDIS_URL"]:
        raise ConfigError(
            "REDIS_URL is not set; production needs Redis for rate limits, "
            "the task queue and the cache"
        )
    if cfg["RATELIMIT_STORAGE_URI"].startswith("memory"):
        raise ConfigError("RATELIMIT_STORAGE_URI is memory://; instances must share Redis")
    if cfg["HUEY_IMMEDIATE"]:
        raise ConfigError("HUEY_IMMEDIATE is on; production runs tasks in a Huey consumer")
    if cfg["PAYMENT_PROVIDER"] != "stripe":
        raise ConfigError(
            "PAYMENT_PROVIDER must be 'stripe' in production; "
            "the offline sandbox is for development only"
        )
    if cfg["MAIL_BACKEND"] == "outbox":
        raise ConfigError("MAIL_BACKEND is outbox; production delivers email with smtp or brevo")
    if not cfg["SHOP_BASE_URL"].startswith("https://"):
        raise ConfigError(
            "SHOP_BASE_URL must be the shop's public https:// address (links in emails use it)"
        )
    if cfg["WHATSAPP_BACKEND"] == "brevo" and not cfg["WHATSAPP_SENDER"]:
        raise ConfigError(
            "WHATSAPP_BACKEND is brevo but WHATSAPP_SENDER (the business number) is not set"
        )
    if cfg["STORAGE_BACKEND"] == "s3" and not cfg["S3_BUCKET"]:
        raise ConfigError("STORAGE_BACKEND is s3 but S3_BUCKET is not set")
    if not cfg["STRIPE_SECRET_KEY"] or not cfg["STRIPE_WEBHOOK_SECRET"]:
        raise ConfigError("STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set in production")

"""ShopSphere application factory."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import BASE_DIR, load_config
from app.core.session_cookie import WebsiteSessionInterface
from app.db import (
    commit_unit_of_work,
    end_unchanged_transaction,
    kept_on_refusal,
    rollback_unit_of_work,
)
from app.db_engine import configure_sqlite, ping_after_idle

log = logging.getLogger(__name__)


class ShopFlask(Flask):
    """Flask with one unit of work per request, committed at the edge.

    The view's return value is turned into a response; a success (< 400) commits and then
    runs after-commit side effects, anything else rolls back — unless a service recorded
    facts that must stand despite the refusal (``keep_on_refusal``: a failed sign-in, a
    revoked token). Exceptions roll back and go to the error handlers. Commit failures
    become a 500, before anything reaches the user.
    """

    session_interface = WebsiteSessionInterface()

    def dispatch_request(self) -> Any:
        try:
            rv = super().dispatch_request()
            response = self.make_response(rv)
        except BaseException:
            rollback_unit_of_work()
            raise
        if response.status_code < 400 or kept_on_refusal():
            commit_unit_of_work()
        else:
            rollback_unit_of_work()
        return response


def create_app(config: dict[str, Any] | None = None) -> ShopFlask:
    app = ShopFlask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(BASE_DIR / "instance"),
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)

    from app.core.numbers import IdConverter

    # Before any route is added: <int:...> everywhere means a real id, ASCII digits only.
    app.url_map.converters["int"] = IdConverter

    if app.config["TRUSTED_PROXY_COUNT"]:
        hops = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from app.core.observability import register_observability

    register_observability(app)
    register_extensions(app)
    register_blueprints(app)
    from app.metrics import BusinessCollector

    app.extensions["shop_metrics"].add_collector(BusinessCollector())
    register_security(app)
    register_errors(app)
    register_templates(app)
    register_cli(app)
    _say_who_reads_metrics(app)
    return app


def _say_who_reads_metrics(app: Flask) -> None:
    from app.core.views import metrics_open_to

    with app.app_context():
        readers = metrics_open_to()
    closed = readers.startswith("nobody") and app.config["SHOP_ENV"] == "production"
    level = logging.WARNING if closed else logging.INFO
    if app.config["SHOP_ENV"] != "testing":
        log.log(level, "/metrics is open to %s", readers)


def _short_redis_timeouts(app: Flask) -> None:
    """The limiter's storage and the cache talk to Redis with REDIS_TIMEOUT_SECONDS (see
    app.core.redis); options set explicitly in the config win."""
    from app.core.redis import timeouts

    limits = timeouts(app.config["REDIS_TIMEOUT_SECONDS"])
    if str(app.config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis", "rediss")):
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            **limits,
            **(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}),
        }
    if app.config.get("CACHE_TYPE") == "RedisCache":
        app.config["CACHE_OPTIONS"] = {**limits, **(app.config.get("CACHE_OPTIONS") or {})}


def register_extensions(app: Flask) -> None:
    from app.api.limits import register_rate_limit_headers, register_retry_after_keeper
    from app.extensions import cache, cors, csrf, db, htmx, limiter, login_manager, migrate
    from app.ratelimit import exempt_from_limits

    _short_redis_timeouts(app)
    db.init_app(app)
    # Runs before Flask-SQLAlchemy's own teardown (last registered, first run).
    app.teardown_appcontext(lambda _exc: end_unchanged_transaction())
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        else:
            ping_after_idle(db.engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    cache.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    register_rate_limit_headers(app)  # before the limiter: it must see the limiter's headers
    limiter.init_app(app)
    register_retry_after_keeper(app)
    limiter.request_filter(exempt_from_limits)
    if app.config["API_CORS_ORIGINS"]:  # none by default: no CORS headers at all
        cors.init_app(app, origins=app.config["API_CORS_ORIGINS"], **API_CORS)

    from app.accounts.sessions import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # server-side sessions do this job (see sessions.py)


# The JSON API for browser clients on the listed origins: bearer tokens, never cookies.
API_CORS: dict[str, Any] = {
    "resources": r"/api/*",
    "allow_headers": [
        "Authorization",
        "Content-Type",
        "If-None-Match",
        "X-Cart-Token",
        "X-Request-ID",
    ],
    "expose_headers": [
        "ETag",
        "Location",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "RateLimit-Policy",
        "Retry-After",
        "WWW-Authenticate",
        "X-Cart-Token",
        "X-Request-ID",
    ],
    "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "max_age": 600,
    "supports_credentials": False,
    "intercept_exceptions": False,  # error responses pass through after_request anyway
}


# The modules that attach routes to the blueprints. A domain's package only defines its
# blueprint, so importing a domain's services (from a task, say) never imports its views.
ROUTE_MODULES = (
    "app.core.views",
    "app.catalog.views",
    "app.catalog.media",
    "app.notifications.views",
    "app.accounts.views",
    "app.accounts.profile_views",
    "app.accounts.two_factor",
    "app.accounts.passkey_views",
    "app.cart.views",
    "app.orders.views",
    "app.checkout.views",
    "app.payments.views",
    "app.pages.views",
    "app.wishlists.views",
    "app.reviews.views",
    "app.returns.views",
    "app.api.auth",
    "app.api.cart",
    "app.api.catalog",
    "app.api.checkout",
    "app.api.docs",
    "app.api.orders",
    "app.api.profile",
    "app.api.wishlist",
    "app.api.reviews",
    "app.api.returns",
    "app.api.verification",
    "app.api.passkeys",
    "app.api.cards",
)


def register_blueprints(app: Flask) -> None:
    for name in ROUTE_MODULES:
        importlib.import_module(name)
    from app.accounts import bp as accounts_bp
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.cart import bp as cart_bp
    from app.catalog import bp as catalog_bp
    from app.checkout import bp as checkout_bp
    from app.core import bp as core_bp
    from app.notifications import bp as notifications_bp
    from app.orders import bp as orders_bp
    from app.pages import bp as pages_bp
    from app.payments import bp as payments_bp
    from app.returns import bp as returns_bp
    from app.reviews import bp as reviews_bp
    from app.wishlists import bp as wishlist_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(cart_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(wishlist_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(returns_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")


def register_security(app: Flask) -> None:
    from app.core.security import register_input_guard, register_security_headers

    register_security_headers(app)
    register_input_guard(app)


def register_errors(app: Flask) -> None:
    from app.core.errors import register_error_handlers

    register_error_handlers(app)


def register_templates(app: Flask) -> None:
    from app.core.templating import register_template_helpers

    register_template_helpers(app)


def register_cli(app: Flask) -> None:
    from app.cli import shop_cli

    app.cli.add_command(shop_cli)

"""Health probes and metrics."""

from __future__ import annotations

import hmac
import ipaddress
import logging

import sqlalchemy as sa
from flask import Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.core import bp
from app.extensions import db

log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. No I/O, so a slow database never restarts pods."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the shared stores answer. Says which one failed, never why (no secrets)."""
    checks: dict[str, str] = {}
    try:  # the request's unit of work ends it (a failed probe answers 503: rolled back)
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database check failed: %s", type(exc).__name__)
        checks["database"] = "fail"
    checks.update(_shared_store_checks())
    ready = all(v == "ok" for v in checks.values())
    status = 200 if ready else 503
    return jsonify(status="ok" if ready else "unavailable", checks=checks), status


def _shared_store_checks() -> dict[str, str]:
    """Each Redis-backed store by its job (they may be different servers): the rate limits,
    the fragment cache and the task queue. Every check answers within the Redis timeout."""
    from app.core.redis import redis_ping
    from app.extensions import limiter

    cfg = current_app.config
    checks: dict[str, str] = {}
    if str(cfg.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis", "rediss")):
        try:
            alive = bool(limiter.storage.check())
        except Exception:  # noqa: BLE001 - a probe reports, it never raises
            alive = False
        checks["rate_limits"] = "ok" if alive else "fail"
    if cfg.get("CACHE_TYPE") == "RedisCache" and cfg.get("CACHE_REDIS_URL"):
        timeout = cfg["REDIS_TIMEOUT_SECONDS"]
        checks["cache"] = "ok" if redis_ping(cfg["CACHE_REDIS_URL"], timeout) else "fail"
    if cfg.get("REDIS_URL"):
        timeout = cfg["REDIS_TIMEOUT_SECONDS"]
        checks["queue"] = "ok" if redis_ping(cfg["REDIS_URL"], timeout) else "fail"
    return checks


def metrics_open_to() -> str:
    """Who may read /metrics, in words (said once at start, see app.core.observability)."""
    cfg = current_app.config
    if not cfg.get("METRICS_ENABLED"):
        return "nobody (METRICS_ENABLED is off)"
    ways = []
    if cfg.get("METRICS_ALLOWED_IPS"):
        ways.append("clients from " + ", ".join(cfg["METRICS_ALLOWED_IPS"]))
    if cfg.get("METRICS_TOKEN"):
        ways.append("scrapers sending the METRICS_TOKEN bearer token")
    if ways:
        return " and ".join(ways)
    if cfg.get("SHOP_ENV") == "production":
        return "nobody: set METRICS_ALLOWED_IPS or METRICS_TOKEN to let a scraper read it"
    return "anyone (development): set METRICS_ALLOWED_IPS or METRICS_TOKEN to restrict it"


def _metrics_allowed() -> bool:
    cfg = current_app.config
    allowed, token = cfg.get("METRICS_ALLOWED_IPS") or [], cfg.get("METRICS_TOKEN")
    if not allowed and not token:
        return cfg.get("SHOP_ENV") != "production"
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(net, strict=False) for net in allowed)


@bp.get("/metrics")
def metrics() -> Response:
    if not current_app.config.get("METRICS_ENABLED") or not _metrics_allowed():
        abort(404)
    registry = current_app.extensions["shop_metrics"].exposition_registry()
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

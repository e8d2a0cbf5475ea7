"""Error responses: HTML pages for browsers, problem+json (RFC 9457) under /api/.

Never a stack trace, SQL or secret in a response; every 5xx is logged with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.db import rollback_unit_of_work

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://shopsphere.example/problems/"
HTML_ERROR_PAGES = {400, 403, 404, 405, 413, 429, 500}

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Upload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}
# What a person can do about it; never the exception's own text for 5xx.
DETAILS = {
    400: "The request could not be understood. Please check what you entered and try again.",
    403: "You do not have permission to see this page.",
    404: "We could not find that page. It may have moved or no longer exist.",
    405: "That action is not allowed here.",
    413: "What you sent is larger than we accept.",
    429: "You are going a little fast. Please wait a moment and try again.",
    500: "We have been told about the problem. Please try again in a moment.",
    503: "The shop is temporarily unavailable. Please try again in a moment.",
}


def wants_problem_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/webhooks/stripe"


def problem(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    title: str | None = None,
    **extra: Any,
) -> Response:
    """An ``application/problem+json`` response with a stable ``type``/``code``."""
    code = code or TITLES.get(status, "error").lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail or DETAILS.get(status, TITLES.get(status, "Error")),
        "instance": request.path,
    }
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _render(status: int, detail: str | None = None, headers: Any = None) -> Response:
    if wants_problem_json():
        response = problem(status, detail)
    else:
        page = status if status in HTML_ERROR_PAGES else (500 if status >= 500 else 400)
        title = TITLES.get(status, "Error")
        detail = detail or DETAILS.get(status, "")
        try:
            body = render_template(f"errors/{page}.html", status=status, title=title, detail=detail)
        except Exception:  # the error page itself must never fail
            log.exception("rendering the %s page failed", status)
            body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{detail}</p>"
        response = Response(body, status=status, mimetype="text/html")
    if headers:
        for key, value in headers:
            if key.lower() in {"retry-after", "allow", "www-authenticate"}:
                response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Response:
        log.warning("CSRF check failed: %s", exc.description)
        return _render(
            400,
            "Your session or form expired, or the security token was missing. "
            "Please go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            log.error("HTTP %s on %s %s", status, request.method, request.path)
        # abort(404, "message") carries a user-facing description; werkzeug's class
        # defaults are generic and 5xx descriptions are never shown.
        custom = exc.description != type(exc).description
        detail = exc.description if custom and status < 500 else None
        if status == 429:
            detail = "Too many requests. Please wait a moment and try again."
        return _render(status, detail, exc.get_headers())

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # pragma: no cover - routed above
            return _http_error(exc)
        try:
            rollback_unit_of_work()
        except Exception:
            log.exception("rollback after an unhandled error failed")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(InternalServerError.code)

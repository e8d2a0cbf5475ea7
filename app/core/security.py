"""Security headers on every response: pages, errors, JSON and static files."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, request

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)


def content_security_policy(form_actions: list[str], image_origins: list[str] | None = None) -> str:
    # No 'unsafe-inline' anywhere: htmx is told not to inject its indicator <style>
    # (htmx-config meta) and our CSS lives in static files. data: images cover the
    # stylesheet's inline SVG icons.
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": " ".join(["'self'", "data:", *(image_origins or [])]),
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "form-action": " ".join(["'self'", *form_actions]),
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def contains_nul(value: object) -> bool:
    """Whether any text in ``value`` (strings, and the keys and items of dicts, lists and
    tuples, however deeply nested) holds a NUL character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def register_input_guard(app: Flask) -> None:
    """NUL characters are never legitimate text, and PostgreSQL refuses to store or compare
    them; refuse them at the edge with a clear 400 instead of failing deep in a query.

    Decoded values are checked, not raw bytes: ``%00`` in a query string or form is a NUL,
    but a password ``100%00`` arrives form-encoded as ``100%2500`` and is plain text, and a
    JSON ``"\\u0000"`` is a NUL while the text ``%00`` inside a signed webhook is not."""

    @app.before_request
    def _refuse_nul() -> None:
        if "\x00" in request.path or contains_nul(list(request.args.items(multi=True))):
            abort(400, "Text may not contain NUL characters.")
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            if contains_nul(list(request.form.items(multi=True))):  # files may be binary
                abort(400, "Text may not contain NUL characters.")
        elif request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # nested deeper than any client means: the view says 400
                return
            if contains_nul(body):
                abort(400, "Text may not contain NUL characters.")


def register_security_headers(app: Flask) -> None:
    media_origin = _origin(app.config.get("S3_PUBLIC_URL"))
    csp = content_security_policy(
        app.config.get("CSP_FORM_ACTIONS", []), [media_origin] if media_origin else []
    )

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers["X-Content-Type-Options"] = "nosniff"
        headers.setdefault("X-Frame-Options", "DENY")
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Permissions-Policy"] = PERMISSIONS_POLICY
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        # Werkzeug's make_conditional stamps a Date; the WSGI server (gunicorn, werkzeug) writes
        # its own, and two Date headers are invalid (RFC 9110 §6.6.1): leave it the server's.
        headers.pop("Date", None)
        if current_app.config.get("HSTS_ENABLED"):
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if response.mimetype == "text/html":
            # One URL answers a whole page or, for htmx, a fragment of it: caches (and the
            # browser's Back button) must keep them apart, and fragments are never stored.
            response.vary.add("HX-Request")
            if request.headers.get("HX-Request") == "true":
                headers["Cache-Control"] = "no-store"
        if "Cache-Control" not in headers:
            # Stored nowhere unless the view chose a policy: account, cart, order, checkout,
            # admin pages and bearer links (unsubscribe, guest orders) are someone's own, and
            # a page added later is safe by default. Public pages say so themselves.
            headers["Cache-Control"] = "no-store"
        return response


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def never_stored(bp: Blueprint) -> None:
    """Every page of ``bp`` shows someone's own data (their checkout, their orders): never
    kept by a shared cache, nor shown again from the browser's history as it was (Back after
    paying must not offer to pay again)."""

    @bp.after_request
    def _no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response

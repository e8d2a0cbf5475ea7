"""CSRF protection that leaves anonymous catalog pages cacheable.

Flask-WTF keeps a random token in the session and signs it into each form, so the first
page a cookieless visitor sees would create a session: every crawler or CDN request got a
new cookie, a new token in the page, and so a new ETag. Catalog pages therefore give a
visitor whose session is still empty a *shared* token instead: an HMAC of the hour, the same
for every such visitor, so two cookieless requests get the same page and the same ETag.

A shared token is not a secret, so it is only accepted where it can do no more than a first
visit could: on the few actions those pages' forms post to (add to cart, choose an option,
ask for a back-in-stock email, the wishlist button that asks a guest to sign in), never
for a signed-in account, and never when the browser says the request is cross-site
(``Origin``/``Sec-Fetch-Site``/``Referer``, which every current browser sends on a form
POST). A guest who added to the cart and comes Back to the page still holds the shared
token, so it stays valid for guests with a session. Everything else keeps Flask-WTF's
per-session tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, generate_csrf

PREFIX = "anon."
BUCKET_SECONDS = 3600
# What an anonymous catalog page's forms do: what a first visit may do anyway.
SHARED_TOKEN_ENDPOINTS = frozenset(
    {"cart.add_item", "catalog.choose_variant", "catalog.back_in_stock", "wishlist.toggle"}
)


def _signature(bucket: int) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, f"anonymous-csrf:{bucket}".encode(), hashlib.sha256).hexdigest()[:32]


def anonymous_token(now: float | None = None) -> str:
    bucket = int((time.time() if now is None else now) // BUCKET_SECONDS)
    return f"{PREFIX}{bucket}.{_signature(bucket)}"


def anonymous_token_valid(token: str | None, now: float | None = None) -> bool:
    if not token or not token.isascii() or not token.startswith(PREFIX) or len(token) > 64:
        return False
    bucket_text, _, signature = token[len(PREFIX) :].partition(".")
    if not bucket_text.isdigit() or len(bucket_text) > 12:
        return False
    bucket = int(bucket_text)
    current = int((time.time() if now is None else now) // BUCKET_SECONDS)
    oldest = current - math.ceil(current_app.config["WTF_CSRF_TIME_LIMIT"] / BUCKET_SECONDS)
    # One hour ahead too: instances whose clocks differ by a little near the hour.
    if not oldest <= bucket <= current + 1:
        return False
    return hmac.compare_digest(signature.encode(), _signature(bucket).encode())


def _same_origin_or_unsaid() -> bool:
    """False when the browser tells us the request came from another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site == "same-origin":
        return True  # the browser's own word, whatever proxies did to scheme and host
    if fetch_site in ("cross-site", "same-site"):
        return False
    here = (request.scheme, request.host)
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        return (parts.scheme, parts.netloc) == here
    if origin == "null":
        return False
    referrer = request.referrer
    if referrer:
        parts = urlsplit(referrer)
        return (parts.scheme, parts.netloc) == here
    return True


class ShopCSRFProtect(CSRFProtect):
    """Flask-WTF's protection, plus the shared token of an anonymous catalog page."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # Templates' csrf_token() (a global and a context processor in Flask-WTF; the later
        # context processor wins).
        app.jinja_env.globals["csrf_token"] = page_csrf_token
        app.context_processor(lambda: {"csrf_token": page_csrf_token})

    def protect(self, apply_exemptions: bool = False) -> None:
        if (
            request.method in current_app.config["WTF_CSRF_METHODS"]
            and request.endpoint in SHARED_TOKEN_ENDPOINTS
            and not session.get("_user_id")  # never on behalf of a signed-in account
            and anonymous_token_valid(self._get_csrf_token())
        ):
            if not _same_origin_or_unsaid():
                self._error_response("The request came from another site.")
            g.csrf_valid = True
            return
        super().protect(apply_exemptions)


def page_csrf_token() -> str:
    """The token for this page's forms: the shared one while the visitor has no session on
    a page that asked for it (``g.shared_csrf_page``), else the session's own."""
    if g.get("shared_csrf_page") and not session and "csrf_token" not in g:
        return anonymous_token()
    return generate_csrf()

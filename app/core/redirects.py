"""Where to send someone next: the shop's own pages only, never an open redirect.

Every ``next`` parameter, form field and Referer the shop follows goes through
:func:`local_url`. Browsers read ``//evil.example``, ``/\\evil.example`` and
``http://shop//evil.example`` (followed by its path) as other sites, and ignore tabs and
newlines inside URLs, so all of those are refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import request, url_for

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def local_url(target: str | None, *, prefix: str = "/") -> str | None:
    """``target`` as a path (and query) on this shop under ``prefix``, or None. An absolute
    URL counts only when it names this very host (a Referer does)."""
    if not target:
        return None
    target = target.strip()
    if len(target) > 2000 or _UNSAFE.search(target):
        return None
    parts = urlsplit(target)
    foreign = parts.scheme not in ("http", "https") or parts.netloc != request.host
    if (parts.scheme or parts.netloc) and foreign:
        return None
    path = parts.path
    if not path.startswith(prefix) or not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def safe_next(target: str | None, default_endpoint: str = "accounts.overview") -> str:
    """A ``next`` parameter after signing in, or the default page."""
    return local_url(target) or url_for(default_endpoint)


def after_sign_in(target: str | None, *, staff: bool) -> str:
    """Where a person lands after signing in: the page they came from (``next``, checked),
    else their own start page — the dashboard for staff, the account for customers."""
    return local_url(target) or url_for("admin.dashboard" if staff else "accounts.overview")


_NOT_A_RETURN = ("accounts.login", "accounts.signup", "accounts.logout", "accounts.two_factor")


def here_for_next() -> str | None:
    """This page as a ``next`` value for "Sign in" links: pages read with GET only, never
    the sign-in pages themselves."""
    if request.method != "GET" or (request.endpoint or "").startswith(_NOT_A_RETURN):
        return None
    path = request.full_path.rstrip("?")
    return local_url(path)


def back_url(default: str, *, prefix: str = "/") -> str:
    """Where a form came from: its ``next`` field, else the Referer, else ``default``."""
    return (
        local_url(request.form.get("next"), prefix=prefix)
        or local_url(request.referrer, prefix=prefix)
        or default
    )

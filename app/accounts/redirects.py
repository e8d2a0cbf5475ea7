"""Where to send a person after signing in: our own pages only (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for


def safe_next(target: str | None, default_endpoint: str = "accounts.overview") -> str:
    if target:
        target = target.strip()
        parts = urlsplit(target)
        if (
            target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
            and not parts.scheme
            and not parts.netloc
            and "\n" not in target
            and "\r" not in target
        ):
            return target
    return url_for(default_endpoint)

"""Helpers the people screens share: the acting staff member, LIKE patterns, date filters,
checked row ids and the sandboxed e-mail preview."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from flask import request
from flask_login import current_user
from werkzeug.wrappers import Response

from app.core.numbers import parse_id

T = TypeVar("T")

INVALID = 422  # a re-rendered form with errors; the request rolls back


def sandboxed_html(html: str) -> Response:
    """An e-mail's HTML for a preview frame: a CSP sandbox (no scripts, forms, plugins or
    same-origin access), inline styles only, framable only by our own pages, never stored."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' data: https:; style-src 'unsafe-inline'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


def me_id() -> int:
    return int(current_user.id)


def like_pattern(text: str, *, prefix: bool = False) -> str:
    """A LIKE pattern (escape ``\\``) matching ``text`` anywhere, or at the start with
    ``prefix``; wildcards typed by staff are taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


def date_arg(name: str, errors: dict[str, str], *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD query argument as a UTC bound (``end``: the start of the next day)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        day: date | None = date.fromisoformat(raw) if len(raw) <= 10 else None
    except ValueError:
        day = None
    if day is None or day.year < 2000:
        errors[name] = "Enter a date like 2026-11-25."
        return None
    moment = datetime.combine(day, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def selected_ids(name: str = "ids", limit: int = 1000) -> list[int]:
    """Checked row ids from a posted form; anything that is not a plausible id is dropped."""
    ids: list[int] = []
    for raw in request.form.getlist(name)[:limit]:
        ident = parse_id(raw)
        if ident is not None:
            ids.append(ident)
    return ids

"""What every staff table shares: page numbers, a whitelisted sort, filters kept in links, and
one view answering both the full page and the HTMX partial.

A list view builds its filtered ``select()``, then::

    page = paginate(stmt, sorts={"created": Order.created_at, "total": Order.total},
                    default="-created")
    return render_listing("admin/orders/list.html", "admin/orders/_table.html", page=page)

The full template includes the partial inside ``<div id="admin-results">``; the filter form
and the pager target that element with ``hx-get`` and ``hx-push-url``, and without JavaScript
they are ordinary GET links and forms. Sort keys come from the URL (``sort=-total``) and only
the keys in ``sorts`` are accepted, so a URL can never choose a column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import render_template, request, url_for

from app.core.numbers import MAX_ID, page_number, parse_int
from app.extensions import db, htmx

RESULTS_ID = "admin-results"
PER_PAGE_CHOICES = (25, 50, 100)


def int_arg(name: str, default: int | None = None, *, lo: int = 1, hi: int = MAX_ID) -> int | None:
    """An integer query argument within [lo, hi]; anything else (text, huge numbers) is the
    default, so a hand-edited URL shows the unfiltered page instead of an error."""
    value = parse_int(request.args.get(name), minimum=lo, maximum=hi, signed=lo < 0)
    return default if value is None else value


def str_arg(name: str, *, limit: int = 200, choices: Sequence[str] | None = None) -> str:
    value = request.args.get(name, "").strip()[:limit]
    if choices is not None and value not in choices:
        return ""
    return value


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    sort: str
    sort_keys: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    def url(self, **changes: Any) -> str:
        """This listing's URL with the current filters and ``changes`` applied (None drops)."""
        args: dict[str, Any] = {k: v for k, v in request.args.items() if v != ""}
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = value
        return url_for(request.endpoint or "", **(request.view_args or {}), **args)

    def sort_url(self, key: str) -> str:
        """Clicking a column sorts by it ascending, clicking again descending."""
        return self.url(sort=f"-{key}" if self.sort == key else key, page=None)

    def sort_state(self, key: str) -> str:
        """The value for ``aria-sort`` on that column's header."""
        if self.sort == key:
            return "ascending"
        if self.sort == f"-{key}":
            return "descending"
        return "none"


def paginate(
    stmt: sa.Select[*tuple[Any, ...]],
    *,
    sorts: Mapping[str, Any],
    default: str,
    scalars: bool = True,
    tiebreak: Any = None,
) -> Page:
    """Run ``stmt`` for the requested page, sorted by a whitelisted key (``-key`` descends).

    ``tiebreak`` (usually the primary key) keeps pages stable when sort values repeat.
    """
    sort = request.args.get("sort", default)
    key = sort.removeprefix("-")
    if key not in sorts:
        sort, key = default, default.removeprefix("-")
    column = sorts[key]
    descending = sort.startswith("-")
    order = [column.desc() if descending else column.asc()]
    if tiebreak is not None:
        order.append(tiebreak.desc() if descending else tiebreak.asc())

    per_page = int_arg("per_page", PER_PAGE_CHOICES[0]) or PER_PAGE_CHOICES[0]
    if per_page not in PER_PAGE_CHOICES:
        per_page = PER_PAGE_CHOICES[0]
    total = db.session.execute(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    ).scalar_one()
    pages = max(1, math.ceil(total / per_page))
    page = min(page_number(request.args.get("page")), pages)
    result = db.session.execute(stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars().unique() if scalars else result.all())
    return Page(items, page, per_page, total, sort, tuple(sorts))


def render_listing(full: str, partial: str, **context: Any) -> str:
    """The partial for an HTMX request that targets the results, the whole page otherwise
    (also for history restores, which need the full document)."""
    if htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request:
        return render_template(partial, **context)
    return render_template(full, **context)

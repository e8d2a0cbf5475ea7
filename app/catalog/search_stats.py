"""Search analytics: which searches shoppers make and which find nothing (last 30 days).

Counting happens on every search page and API search, so it must cost a request nothing:
each process adds to a small in-memory tally and hands it to a task (one UPSERT per query and
day) every SEARCH_STATS_FLUSH_SECONDS or 200 distinct queries. A process that dies loses at
most that much of its tally — analytics, not ledgers. What is kept is the normalised query
(lower case, single spaces, 100 characters) per day, with no visitor, session or IP; text
that looks like an email address or a long number (someone pasting an order or phone number)
is not kept at all.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app

from app.catalog import tasks
from app.catalog.models import SearchStat
from app.db import upsert, utcnow
from app.extensions import db

log = logging.getLogger(__name__)

MAX_QUERY = 100
MAX_PENDING = 200
RETENTION = timedelta(days=90)
# An email address, an order number (SS-XXXX-XXXX) or six digits or more, even with spaces,
# dots or dashes between them (phone, card and account numbers).
PERSONAL = re.compile(r"@|\bss-[0-9a-z]{4}-[0-9a-z]{4}\b|\d(?:[\s.\-/]?\d){5,}")

_lock = threading.Lock()
_pending: Counter[tuple[str, str, bool]] = Counter()  # (day, query, found nothing) -> count
_since = time.monotonic()


def normalised(query: str) -> str | None:
    text = " ".join(query.lower().split())[:MAX_QUERY]
    if not text or PERSONAL.search(text):
        return None
    return text


def record_search(query: str, total: int) -> None:
    """Count one search for the dashboard (the first page of a search, web or API)."""
    text = normalised(query)
    if text is None:
        return
    global _since
    with _lock:
        _pending[(utcnow().date().isoformat(), text, total == 0)] += 1
        due = (
            len(_pending) >= MAX_PENDING
            or time.monotonic() - _since >= current_app.config["SEARCH_STATS_FLUSH_SECONDS"]
        )
        if not due:
            return
        batch = [[day, q, zero, n] for (day, q, zero), n in _pending.items()]
        _pending.clear()
        _since = time.monotonic()
    try:
        tasks.store_search_stats(batch)
    except Exception as exc:  # the queue is down: the shopper still gets the page
        log.warning("search statistics not stored (%s searches dropped): %r", len(batch), exc)


def store(batch: list[list]) -> None:
    """Add a tally to the day's rows (one UPSERT each, safe with several instances)."""
    totals: dict[tuple[str, str], list[int]] = {}
    for day, query, zero, count in batch:
        row = totals.setdefault((day, query), [0, 0])
        row[0] += count
        row[1] += count if zero else 0
    for (day, query), (searches, zero_results) in sorted(totals.items()):
        statement = upsert(SearchStat).values(
            day=date.fromisoformat(day),
            query=query,
            searches=searches,
            zero_results=zero_results,
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["day", "query"],
                set_={
                    "searches": SearchStat.searches + statement.excluded.searches,
                    "zero_results": SearchStat.zero_results + statement.excluded.zero_results,
                },
            )
        )


def forget_old() -> int:
    cutoff = utcnow().date() - RETENTION
    result = db.session.execute(sa.delete(SearchStat).where(SearchStat.day < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class SearchRow:
    query: str
    searches: int
    zero_results: int


def top_searches(*, days: int = 30, limit: int = 10, zero_only: bool = False) -> list[SearchRow]:
    """The most made searches of the last ``days`` days (or those that found nothing)."""
    since = utcnow().date() - timedelta(days=days - 1)
    searches = sa.func.sum(SearchStat.searches)
    zero = sa.func.sum(SearchStat.zero_results)
    query = (
        sa.select(SearchStat.query, searches, zero)
        .where(SearchStat.day >= since)
        .group_by(SearchStat.query)
        .order_by((zero if zero_only else searches).desc(), SearchStat.query)
        .limit(limit)
    )
    if zero_only:
        query = query.having(zero > 0)
    return [SearchRow(q, int(s), int(z)) for q, s, z in db.session.execute(query)]

"""Numbers that come from outside: query strings, forms, path parts, JSON, CSV cells.

Python's own parsers are generous in ways a shop must not be: ``int("٣")`` is 3,
``"²".isdigit()`` is True but ``int("²")`` raises, ``int("1_000")`` is 1000, ``Decimal("1e999999")``
is a number whose ``int()`` takes half a minute, and a 20-digit id passes every Python check
and then overflows the database's integer column. Everything here accepts ASCII digits only,
of bounded length, and answers ``None`` (or a clamped value) instead of raising, so a view
turns it into a 404, a form error or the default — never a 500 and never slow work.

Money typed by people is :func:`app.core.money.minor_units`, built on the same rules.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import BaseConverter

MAX_ID = 2**31 - 1  # PostgreSQL's integer; every primary key in the shop fits it
MAX_PAGE = 10_000

_UNSIGNED = re.compile(r"[0-9]{1,18}")
_SIGNED = re.compile(r"-?[0-9]{1,18}")


def parse_int(
    raw: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    signed: bool = False,
) -> int | None:
    """Whole number written in ASCII digits (an optional leading ``-`` if ``signed``), within
    ``minimum``..``maximum``; surrounding spaces are ignored. Anything else is ``None``."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        if not (_SIGNED if signed else _UNSIGNED).fullmatch(text):
            return None
        value = int(text)
    if minimum is not None and value < minimum:
        return None
    if maximum is not None and value > maximum:
        return None
    return value


def parse_id(raw: Any) -> int | None:
    """A row id: 1..2^31−1, as every table's primary key is. ``None`` means "no such row"."""
    return parse_int(raw, minimum=1, maximum=MAX_ID)


def page_number(raw: Any, maximum: int = MAX_PAGE) -> int:
    """A page of a listing: 1 when absent or unreadable, at most ``maximum``."""
    return clamp_int(raw, 1, 1, maximum)


def clamp_int(raw: Any, default: int, minimum: int, maximum: int) -> int:
    """A bounded setting such as ``per_page``: ``default`` when absent or unreadable, clamped
    to ``minimum``..``maximum`` otherwise (a 20-digit page is the last page, not an error)."""
    text = "" if raw is None else str(raw).strip()
    if not text.isascii() or not text.isdigit():
        return default
    if len(text) > 18:
        return maximum
    return min(max(int(text), minimum), maximum)


def _up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1..``limit`` without leading zeros."""
    digits = str(limit)
    branches = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]  # every shorter number
    for i, digit in enumerate(digits):
        rest = len(digits) - i - 1
        low = "1" if i == 0 else "0"
        if int(digit) > int(low):
            top = str(int(digit) - 1)
            span = low if top == low else f"[{low}-{top}]"
            branches.append(digits[:i] + span + (f"[0-9]{{{rest}}}" if rest else ""))
    branches.append(digits)
    return "(?:" + "|".join(branches) + ")"


class IdConverter(BaseConverter):
    """``<int:...>`` in every route: the decimal ASCII digits of a possible id (1..2^31−1),
    or the route does not match and the answer is 404. Werkzeug's own converter takes any
    Unicode digit and any size of number. The range is in the regular expression itself:
    refusing in ``to_python`` would make a sibling rule's methods answer 405 instead."""

    regex = _up_to(MAX_ID)
    part_isolating = True
    weight = 50

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))

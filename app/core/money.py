"""Money as people and files type it: decimal text ↔ integer minor units of a currency,
exactly (Decimal), with the currency's own number of decimals (babel). Staff forms, filters
and the CSV import all read amounts here; display formatting is templating.money.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import get_currency_precision

_NUMBER = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,6})?")  # ASCII only: int("٣") is 3


def _example(places: int) -> str:
    return "1999" if places == 0 else "19." + "99" + "9" * (places - 2)


def minor_units(
    text: str | None,
    currency: str,
    *,
    what: str = "amount",
    positive: bool = False,
    max_major: int | Decimal = 1_000_000_000,
) -> int:
    """``"19.99"`` → ``1999`` in ``currency``. Spaces are ignored and one comma may stand for
    the decimal point (``"12,50"``); signs, exponents, thousands separators and currency
    symbols are refused. Raises ValueError with a sentence to show next to the field."""
    raw = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    places = get_currency_precision(currency)
    example = _example(places)
    if not raw:
        raise ValueError(f"Enter {'an' if what[0] in 'aeiou' else 'a'} {what}.")
    if not _NUMBER.fullmatch(raw):
        raise ValueError(f"Enter the {what} as a number like {example}, without a currency sign.")
    value = Decimal(raw)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        if places == 0:
            raise ValueError(f"{currency} amounts are whole numbers, like {example}.")
        raise ValueError(f"Use at most {places} decimal places, like {example}.")
    if positive and minor <= 0:
        raise ValueError(f"The {what} must be greater than zero.")
    if value > max_major:
        raise ValueError(f"The {what} must be at most {max_major:,}.")
    return int(minor)


def decimal_text(minor: int | None, currency: str) -> str:
    """The inverse of :func:`minor_units`, to fill a form or a file: ``1999`` → ``"19.99"``."""
    if minor is None:
        return ""
    places = get_currency_precision(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"

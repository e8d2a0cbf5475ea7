"""Parsing of listing query parameters. Bad input is clamped or ignored, with a message."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

from app.catalog.search import MAX_QUERY_LENGTH

SORTS = {
    "relevance": "Best match",
    "newest": "Newest",
    "price": "Price: low to high",
    "-price": "Price: high to low",
    "name": "Name: A to Z",
}
DEFAULT_PER_PAGE = 24
PER_PAGE_CHOICES = (24, 48, 96)
MAX_PER_PAGE = 96
MAX_PAGE = 10_000
MAX_PRICE_MINOR = 10**11


@dataclass(frozen=True)
class ListingParams:
    q: str = ""
    category: str = ""
    min_price: int | None = None  # minor units
    max_price: int | None = None
    in_stock: bool = False
    sort: str = "newest"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    messages: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: MultiDict[str, str], category: str = "") -> ListingParams:
        messages: list[str] = []
        q = " ".join(args.get("q", "").split())[:MAX_QUERY_LENGTH]
        min_price = _price(args.get("min_price"), "Minimum price", messages)
        max_price = _price(args.get("max_price"), "Maximum price", messages)
        if min_price is not None and max_price is not None and min_price > max_price:
            min_price, max_price = max_price, min_price
            messages.append("The minimum price was above the maximum, so we swapped them.")
        sort = args.get("sort") or ("relevance" if q else "newest")
        if sort not in SORTS:
            messages.append("That sort order is not available; showing the default order.")
            sort = "relevance" if q else "newest"
        if sort == "relevance" and not q:
            sort = "newest"
        per_page = _int(args.get("per_page"), DEFAULT_PER_PAGE)
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        page = min(max(_int(args.get("page"), 1), 1), MAX_PAGE)
        return cls(
            q=q,
            category=category or args.get("category", "").strip("/ ")[:500],
            min_price=min_price,
            max_price=max_price,
            in_stock=args.get("in_stock", "") in {"1", "on", "true", "yes"},
            sort=sort,
            page=page,
            per_page=per_page,
            messages=tuple(messages),
        )

    def with_page(self, page: int) -> ListingParams:
        return replace(self, page=page)

    def cache_key(self) -> str:
        return (
            f"q={self.q}|c={self.category}|min={self.min_price}|max={self.max_price}"
            f"|s={int(self.in_stock)}|o={self.sort}|p={self.page}|n={self.per_page}"
        )

    def query_args(self, include_category: bool = True, **overrides: Any) -> dict[str, Any]:
        """Canonical query-string arguments (defaults left out) for links and forms."""
        values: dict[str, Any] = {
            "q": self.q,
            "category": self.category if include_category else "",
            "min_price": _major(self.min_price),
            "max_price": _major(self.max_price),
            "in_stock": "1" if self.in_stock else "",
            "sort": "" if self.sort == ("relevance" if self.q else "newest") else self.sort,
            "per_page": "" if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "page": "" if self.page == 1 else self.page,
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def has_filters(self) -> bool:
        return bool(
            self.q or self.min_price is not None or self.max_price is not None or self.in_stock
        )


def _int(raw: str | None, default: int) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


def _price(raw: str | None, label: str, messages: list[str]) -> int | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        messages.append(f"{label} “{raw[:20]}” is not a number, so it was ignored.")
        return None
    if not value.is_finite() or value < 0:
        messages.append(f"{label} must be zero or more, so it was ignored.")
        return None
    return min(int(value * 100), MAX_PRICE_MINOR)


def _major(minor: int | None) -> str:
    if minor is None:
        return ""
    whole, cents = divmod(minor, 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"

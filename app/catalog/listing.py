"""Parsing of listing query parameters. Bad input is clamped or ignored, with a message."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from flask import current_app
from werkzeug.datastructures import MultiDict

from app.catalog.search import MAX_QUERY_LENGTH
from app.core.money import decimal_text, minor_units
from app.core.numbers import clamp_int, page_number

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
MAX_PRICE_MINOR = 10**11
MAX_BRAND_LENGTH = 120  # products.brand's length


@dataclass(frozen=True)
class ListingParams:
    q: str = ""
    category: str = ""
    min_price: int | None = None  # minor units
    max_price: int | None = None
    in_stock: bool = False
    brand: str = ""  # exactly as the catalog spells it (the brand facet's links carry it)
    specs: tuple[tuple[str, str], ...] = ()  # (specification, value), one per name, sorted
    sort: str = "newest"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    as_typed: bool = False  # search for ``q`` exactly as typed, never a corrected spelling
    messages: tuple[str, ...] = field(default=(), compare=False)

    # Every query parameter from_args reads (a category page's category is its path).
    QUERY_NAMES: ClassVar[tuple[str, ...]] = (
        "q", "min_price", "max_price", "sort", "per_page", "page",
        "in_stock", "brand", "spec", "as_typed",
    )  # fmt: skip

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
        per_page = clamp_int(args.get("per_page"), DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        page = page_number(args.get("page"))
        return cls(
            q=q,
            category=category or args.get("category", "").strip("/ ")[:500],
            min_price=min_price,
            max_price=max_price,
            in_stock=args.get("in_stock", "") in {"1", "on", "true", "yes"},
            brand=" ".join(args.get("brand", "").split())[:MAX_BRAND_LENGTH],
            specs=_specs(args.getlist("spec")),
            sort=sort,
            page=page,
            per_page=per_page,
            as_typed=bool(q) and args.get("as_typed", "") in {"1", "true"},
            messages=tuple(messages),
        )

    def with_page(self, page: int) -> ListingParams:
        return replace(self, page=page)

    def cache_key(self) -> str:
        return (
            f"q={self.q}|c={self.category}|min={self.min_price}|max={self.max_price}"
            f"|s={int(self.in_stock)}|o={self.sort}|p={self.page}|n={self.per_page}"
            f"|t={int(self.as_typed)}|b={self.brand}|f={self.specs!r}"
        )

    def query_args(self, include_category: bool = True, **overrides: Any) -> dict[str, Any]:
        """Canonical query-string arguments (defaults left out) for links and forms."""
        values: dict[str, Any] = {
            "q": self.q,
            "category": self.category if include_category else "",
            "min_price": _major(self.min_price),
            "max_price": _major(self.max_price),
            "in_stock": "1" if self.in_stock else "",
            "brand": self.brand,
            "spec": self.spec_args(),
            "sort": "" if self.sort == ("relevance" if self.q else "newest") else self.sort,
            "per_page": "" if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "page": "" if self.page == 1 else self.page,
            "as_typed": "1" if self.as_typed else "",
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def has_filters(self) -> bool:
        return bool(
            self.q
            or self.min_price is not None
            or self.max_price is not None
            or self.in_stock
            or self.brand
            or self.specs
        )

    def spec_args(self, name: str | None = None, value: str | None = None) -> list[str]:
        """The ``spec`` arguments, with ``name`` set to ``value`` (or dropped when None)."""
        chosen = dict(self.specs)
        if name is not None:
            chosen.pop(name, None)
            if value is not None:
                chosen[name] = value
        return [f"{n}:{v}" for n, v in sorted(chosen.items())]


MAX_SPECS = 5


def _specs(raw: list[str]) -> tuple[tuple[str, str], ...]:
    """``spec=Material:Wool`` arguments: a name, a colon, a value; one value per name."""
    chosen: dict[str, str] = {}
    for item in raw[: MAX_SPECS * 2]:
        name, colon, value = item.partition(":")
        name, value = " ".join(name.split())[:40], " ".join(value.split())[:200]
        if colon and name and value and '"' not in name and "\\" not in name:
            chosen[name] = value
    return tuple(sorted(chosen.items()))[:MAX_SPECS]


def _price(raw: str | None, label: str, messages: list[str]) -> int | None:
    """A price filter in the shop's currency. The message never repeats what was typed: it
    is shown beside results anyone may be served, so it must not carry a visitor's text."""
    if raw is None or not raw.strip():
        return None
    try:
        return min(minor_units(raw, _currency(), what=label.lower()), MAX_PRICE_MINOR)
    except ValueError:
        messages.append(f"{label} is not an amount like 25 or 12.50, so it was ignored.")
        return None


def _currency() -> str:
    return current_app.config["SHOP_CURRENCY"]


def _major(minor: int | None) -> str:
    if minor is None:
        return ""
    text = decimal_text(minor, _currency())
    return text.rstrip("0").rstrip(".") if "." in text else text

"""Choosing a variant on a product page: one control per option (size, colour …).

A product's variants carry their options as a mapping (``{"size": "M", "colour": "Olive"}``).
The page shows one radio group per option name, in the order the variants introduce them,
with each value marked as it would be bought together with the other options chosen now:
available, sold out, or not made in that combination (choosing it then switches the other
options to a variant that has it). The form sends the option values (``option1``,
``option2`` …) with the variant shown now, so the server can tell which option the shopper
changed; ``resolve`` turns that into a variant. Variants without options are told apart by
their SKU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.catalog.models import Variant
from app.extensions import db

MAX_OPTIONS = 10  # option groups read from a request; a product rarely has more than three
State = Literal["available", "sold_out", "unavailable"]


@dataclass(frozen=True)
class OptionValue:
    value: str
    checked: bool
    state: State


@dataclass(frozen=True)
class OptionGroup:
    field: str  # the form field: option1, option2 …
    name: str
    values: tuple[OptionValue, ...]

    @property
    def choosable(self) -> bool:
        return len(self.values) > 1

    @property
    def chosen(self) -> str:
        return next((v.value for v in self.values if v.checked), "")


def _value(variant: Variant, name: str | None) -> str | None:
    if name is None:
        return variant.sku
    value = (variant.options or {}).get(name)
    return None if value is None else str(value)


def option_names(variants: Sequence[Variant]) -> list[str | None]:
    """Option names in the order the variants introduce them. ``[None]`` when several
    variants have no options at all (they are chosen by SKU)."""
    names: list[str | None] = []
    for variant in variants:
        for name in variant.options or {}:
            if name not in names:
                names.append(name)
    if not names and len(variants) > 1:
        return [None]
    return names


def resolve(
    variants: Sequence[Variant], current: Variant | None, chosen: Mapping[str | None, str]
) -> Variant | None:
    """The variant a shopper means by ``chosen`` (option name → value) when ``current`` was
    shown: an option they changed must match; of those, the variant keeping most of the other
    choices wins, then one in stock, then the first listed."""
    if not variants:
        return None
    changed = {
        name: value
        for name, value in chosen.items()
        if current is None or _value(current, name) != value
    }
    candidates = [
        (position, v)
        for position, v in enumerate(variants)
        if all(_value(v, name) == value for name, value in changed.items())
    ]
    if not candidates:
        return current

    def score(candidate: tuple[int, Variant]) -> tuple[int, bool, int]:
        position, variant = candidate
        kept = sum(_value(variant, name) == value for name, value in chosen.items())
        return kept, variant.is_available, -position

    return max(candidates, key=score)[1]


def option_groups(variants: Sequence[Variant], current: Variant) -> list[OptionGroup]:
    """One group per option that has more than one value; a single value is shown as text."""
    groups = []
    names = option_names(variants)
    for number, name in enumerate(names, start=1):
        values: list[str] = []
        for variant in variants:
            value = _value(variant, name)
            if value is not None and value not in values:
                values.append(value)
        others = {n: _value(current, n) for n in names if n != name}
        entries = []
        for value in values:
            exact = next(
                (
                    v
                    for v in variants
                    if _value(v, name) == value
                    and all(_value(v, n) == other for n, other in others.items())
                ),
                None,
            )
            if exact is None:
                state: State = "unavailable"
            else:
                state = "available" if exact.is_available else "sold_out"
            entries.append(OptionValue(value, value == _value(current, name), state))
        groups.append(OptionGroup(f"option{number}", name or "Option", tuple(entries)))
    return groups


def chosen_options(variants: Sequence[Variant], args: Mapping[str, str]) -> dict[str | None, str]:
    """The option values a request names (``option1=M``), by option name. Unknown fields and
    values are ignored, so a hand-made URL can only choose among what exists."""
    names = option_names(variants)[:MAX_OPTIONS]
    chosen: dict[str | None, str] = {}
    for number, name in enumerate(names, start=1):
        value = args.get(f"option{number}")
        if value is not None and any(_value(v, name) == value for v in variants):
            chosen[name] = value
    return chosen


def names_options(args: Mapping[str, str]) -> bool:
    return any(f"option{n}" in args for n in range(1, MAX_OPTIONS + 1))


def stock_level(variant: Variant) -> str:
    """ok, low or out: how a variant's stock is shown (badge colour)."""
    available = variant.available
    if available is None:
        return "ok"
    if available == 0:
        return "out"
    return "low" if available <= variant.low_stock_threshold else "ok"


def stock_text(variant: Variant) -> str:
    level = stock_level(variant)
    if level == "out":
        return "Out of stock"
    if level == "low":
        return f"Only {variant.available} left"
    return "In stock"


def options_phrase(variant: Variant) -> str:
    """How a choice is said aloud: "Size L, colour Olive"."""
    phrase = ", ".join(f"{name} {value}" for name, value in (variant.options or {}).items())
    return phrase[:1].upper() + phrase[1:]


def variant_meant(variant_id: int, form: Mapping[str, str]) -> int:
    """The variant an add-to-cart form means: the one it showed, or the one its ticked
    options name (without JavaScript the page is not updated between ticking and adding)."""
    if not names_options(form):
        return variant_id
    shown = db.session.get(Variant, variant_id)
    if shown is None:
        return variant_id
    variants = shown.product.variants
    chosen = resolve(variants, shown, chosen_options(variants, form))
    return chosen.id if chosen else variant_id

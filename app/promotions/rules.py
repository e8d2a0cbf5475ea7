"""The arithmetic of promotions, with no database: which lines a promotion covers, how much
it takes off each, and which promotions apply together. Amounts are integer minor units.

How promotions combine (written once, here):

* At most one automatic promotion discounts the items: the one that saves the most.
  Automatic free shipping applies besides it.
* One code per cart. A code's item discount adds to the automatic one when that automatic
  promotion ``combines_with_codes`` (the code then discounts what is left of each line);
  otherwise the shopper gets whichever of the two saves more, and is told why the other
  did not apply. Free shipping (by code or automatically) always combines.
* A fixed amount is spread over the lines it covers in proportion to their totals (largest
  remainder, so the parts add up exactly), and never more than they cost: that spread is
  what each line was paid, which is what a refund of the line gives back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.promotions.models import Benefit, Scope


@dataclass(frozen=True)
class Line:
    key: int  # the variant's id
    product_id: int
    category_path: str  # the product's category ``id_path`` ("/1/7/"), "" without one
    amount: int  # the line's total before discounts


@dataclass(frozen=True)
class Rule:
    """A promotion as the arithmetic sees it (and, for a code, which code)."""

    promotion_id: int
    name: str
    benefit: str
    value: int
    scope: str = Scope.ORDER
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    min_subtotal: int = 0
    combines_with_codes: bool = False
    code: str = ""  # "" for an automatic promotion
    code_id: int | None = None

    @property
    def shipping(self) -> bool:
        return self.benefit == Benefit.FREE_SHIPPING

    def covers(self, line: Line) -> bool:
        if self.scope == Scope.ORDER:
            return True
        if line.product_id in self.product_ids:
            return True
        return any(f"/{c}/" in line.category_path for c in self.category_ids)


@dataclass(frozen=True)
class Applied:
    """A discount the cart gets: its line on the cart, order, e-mail and invoice."""

    promotion_id: int
    name: str
    code: str
    code_id: int | None
    target: str  # "items" or "shipping"
    amount: int  # for shipping: filled in by the quote, which knows the delivery's price
    per_line: tuple[tuple[int, int], ...] = ()  # (variant id, amount)


@dataclass(frozen=True)
class Deal:
    """What the promotions give a cart. ``code_problem`` says why the cart's code gives
    nothing ("" when it applies, or when there is no code)."""

    items: tuple[Applied, ...] = ()
    free_shipping: Applied | None = None
    code: str = ""
    code_problem: str = ""
    line_discounts: dict[int, int] = field(default_factory=dict)

    @property
    def items_discount(self) -> int:
        return sum(self.line_discounts.values())


NO_DEAL = Deal()


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder): the parts are whole
    minor units and add up to exactly ``total``."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _percent_of(amount: int, percent: int) -> int:
    return (amount * percent * 2 + 100) // 200  # half up


def eligible_total(rule: Rule, lines: Sequence[Line]) -> int:
    return sum(line.amount for line in lines if rule.covers(line))


def why_not(rule: Rule, lines: Sequence[Line], money) -> str:
    """Why ``rule`` gives this cart nothing ("" when it applies). ``money`` formats an amount."""
    covered = [line for line in lines if rule.covers(line)]
    what = f"The code {rule.code}" if rule.code else rule.name
    if not covered:
        return f"{what} does not apply to anything in your cart."
    short = rule.min_subtotal - sum(line.amount for line in covered)
    if short > 0:
        on = "" if rule.scope == Scope.ORDER else " on the items it covers"
        return (
            f"{what} needs a spend of {money(rule.min_subtotal)}{on}; "
            f"add {money(short)} more to use it."
        )
    return ""


def take_off(rule: Rule, lines: Sequence[Line], already: dict[int, int]) -> dict[int, int]:
    """What ``rule`` takes off each line it covers, from what is left after ``already``."""
    covered = [line for line in lines if rule.covers(line)]
    left = [max(line.amount - already.get(line.key, 0), 0) for line in covered]
    if rule.benefit == Benefit.PERCENT:
        parts = [_percent_of(amount, rule.value) for amount in left]
    elif rule.benefit == Benefit.AMOUNT:
        parts = spread(min(rule.value, sum(left)), left)
    else:
        return {}
    return {line.key: part for line, part in zip(covered, parts, strict=True) if part > 0}


def _applied(rule: Rule, per_line: dict[int, int]) -> Applied:
    return Applied(
        promotion_id=rule.promotion_id,
        name=rule.name,
        code=rule.code,
        code_id=rule.code_id,
        target="shipping" if rule.shipping else "items",
        amount=sum(per_line.values()),
        per_line=tuple(sorted(per_line.items())),
    )


def _add(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def evaluate(
    lines: Sequence[Line],
    *,
    automatic: Sequence[Rule],
    code: Rule | None,
    code_text: str = "",
    code_problem: str = "",
    money=str,
) -> Deal:
    """The discounts ``lines`` get from the ``automatic`` promotions and the cart's ``code``
    (``code_problem``: why the code was refused before any arithmetic: unknown, expired,
    used up)."""
    fitting = [r for r in automatic if not why_not(r, lines, money)]
    best_auto: tuple[Rule, dict[int, int]] | None = None
    for rule in fitting:
        if rule.shipping:
            continue
        cut = take_off(rule, lines, {})
        if cut and (best_auto is None or sum(cut.values()) > sum(best_auto[1].values())):
            best_auto = (rule, cut)
    free = next((r for r in fitting if r.shipping), None)
    items: list[Applied] = [_applied(*best_auto)] if best_auto else []
    discounts = dict(best_auto[1]) if best_auto else {}
    problem = code_problem
    if code is not None and not problem:
        problem = why_not(code, lines, money)
    if code is not None and not problem:
        if code.shipping and free is not None:  # a code's use is never spent for nothing
            problem = (
                f"Delivery is already free with {free.name}; keep the code {code.code} for "
                "another order."
            )
        elif code.shipping:
            free = code
        elif best_auto is None or best_auto[0].combines_with_codes:
            cut = take_off(code, lines, discounts)
            if cut:
                items.append(_applied(code, cut))
                discounts = _add(discounts, cut)
            else:
                problem = f"The code {code.code} takes nothing more off your cart."
        else:
            alone = take_off(code, lines, {})
            if sum(alone.values()) > sum(discounts.values()):
                items, discounts = [_applied(code, alone)], alone
            else:
                problem = (
                    f"The code {code.code} cannot be combined with {best_auto[0].name}, "
                    "which already saves you more."
                )
    return Deal(
        items=tuple(items),
        free_shipping=_applied(free, {}) if free is not None else None,
        code=code.code if code is not None else code_text,
        code_problem=problem,
        line_discounts=discounts,
    )

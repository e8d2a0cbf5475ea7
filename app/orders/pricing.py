"""Shipping, tax and totals, computed on the server from catalog prices (integer cents)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa

from app.extensions import db
from app.promotions.rules import NO_DEAL, Applied, Deal
from app.store.models import ShippingMethod, TaxRate


@dataclass(frozen=True)
class QuoteItem:
    """A line to price: what the catalog says now, never what a request said."""

    variant_id: int
    product_name: str
    variant_options: str
    sku: str
    unit_price: int
    quantity: int


@dataclass(frozen=True)
class QuoteLine:
    variant_id: int
    product_name: str
    variant_options: str
    sku: str
    unit_price: int
    quantity: int
    line_total: int
    tax: int
    discount: int = 0  # this line's share of the discounts: it was paid line_total - discount


@dataclass(frozen=True)
class Quote:
    lines: list[QuoteLine]
    currency: str
    subtotal: int
    shipping: int
    shipping_method: str
    tax: int
    tax_inclusive: bool
    tax_name: str
    discount: int  # off the items (free shipping shows as shipping 0 and a discount line)
    total: int
    discounts: tuple[Applied, ...] = ()  # the discount lines, shipping's amount filled in
    code: str = ""  # the cart's code, applied or not
    code_problem: str = ""  # why the code gives nothing ("" when it applies)


def tax_on(amount: int, rate_bp: int, inclusive: bool) -> int:
    """Tax in cents, rounded half up. Inclusive prices contain it: amount * r / (1 + r)."""
    if rate_bp <= 0 or amount <= 0:
        return 0
    if inclusive:
        denominator = 10000 + rate_bp
        return (2 * amount * rate_bp + denominator) // (2 * denominator)
    return (amount * rate_bp + 5000) // 10000


def active_methods() -> list[ShippingMethod]:
    """Every method offered somewhere (read on each call: staff edits apply at once)."""
    return list(db.session.execute(_methods_statement()).scalars())


@functools.cache
def _methods_statement() -> sa.Select[ShippingMethod]:
    """:func:`active_methods`' query, built once per process."""
    return (
        sa.select(ShippingMethod)
        .where(ShippingMethod.active.is_(True))
        .order_by(ShippingMethod.position, ShippingMethod.id)
    )


def methods_for(country: str) -> list[ShippingMethod]:
    return [m for m in active_methods() if not m.countries or country.upper() in m.countries]


def shipping_cost(method: ShippingMethod, subtotal: int) -> int:
    if method.free_over is not None and subtotal >= method.free_over:
        return 0
    return method.price


def tax_rate_for(country: str, region: str = "") -> TaxRate | None:
    where = {"country": country.upper(), "region": region or ""}
    rows = db.session.execute(_rates_statement(), where).scalars().all()
    return next(
        (r for r in rows if r.region and r.region == region),
        next((r for r in rows if not r.region), None),
    )


@functools.cache
def _rates_statement() -> sa.Select[TaxRate]:
    """:func:`tax_rate_for`'s query (the country's rate and its region's), built once per
    process, the place bound at each run."""
    return sa.select(TaxRate).where(
        TaxRate.country == sa.bindparam("country", type_=TaxRate.country.type),
        TaxRate.region.in_([sa.bindparam("region", type_=TaxRate.region.type), ""]),
    )


def build_quote(
    items: Sequence[QuoteItem],
    *,
    currency: str,
    country: str,
    region: str,
    method: ShippingMethod,
    deal: Deal = NO_DEAL,
) -> Quote:
    """Totals for ``items`` (priced from the catalog by the caller) delivered to ``country``,
    with the discounts of ``deal`` (app/promotions/rules.py).

    Each line is taxed on what is paid for it (its total less its share of the discounts);
    a delivery that is free over an amount looks at the items' total after discounts; free
    shipping makes the delivery 0 and shows what it saved as a discount line."""
    rate = tax_rate_for(country, region)
    rate_bp = rate.rate_bp if rate else 0
    inclusive = rate.inclusive if rate else True
    lines = []
    for item in items:
        line_total = item.unit_price * item.quantity
        discount = min(deal.line_discounts.get(item.variant_id, 0), line_total)
        lines.append(
            QuoteLine(
                variant_id=item.variant_id,
                product_name=item.product_name,
                variant_options=item.variant_options,
                sku=item.sku,
                unit_price=item.unit_price,
                quantity=item.quantity,
                line_total=line_total,
                tax=tax_on(line_total - discount, rate_bp, inclusive),
                discount=discount,
            )
        )
    subtotal = sum(line.line_total for line in lines)
    discount = sum(line.discount for line in lines)
    shipping = shipping_cost(method, subtotal - discount)
    discounts = list(deal.items)
    free = deal.free_shipping
    if free is not None and shipping > 0:  # delivery free anyway: no line, no use taken
        discounts.append(replace(free, amount=shipping))
        shipping = 0
    tax = sum(line.tax for line in lines) + tax_on(shipping, rate_bp, inclusive)
    total = subtotal - discount + shipping + (0 if inclusive else tax)
    return Quote(
        lines,
        currency,
        subtotal,
        shipping,
        method.name,
        tax,
        inclusive,
        rate.name if rate else "",
        discount,
        total,
        discounts=tuple(discounts),
        code=deal.code,
        code_problem=deal.code_problem,
    )

"""Settings verbs: store details, shipping methods, tax rates. They flush and audit; the
request commits. Checkout reads shipping methods and tax rates from the database on every
quote (app/orders/pricing.py caches nothing), so a change applies to the next quote.

Shipping methods: orders keep their own copy of the method's name and price, so deleting a
method never changes an order. A method that orders have used is still kept (deactivate it
instead) so its code and history stay recognisable; one nobody used (a mistake) may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts.audit import audit
from app.catalog.cache import catalog_changed
from app.catalog.models import Variant
from app.core.shop_errors import ShopError
from app.db import affected
from app.extensions import db
from app.orders.models import Order
from app.store.models import ShippingMethod, TaxRate
from app.store.settings import update_store_settings


class SettingsError(ShopError):
    """Input that is well formed but clashes with what is stored; ``field`` gets the message."""

    code = "settings-rejected"


def _describe(changes: dict[str, tuple[Any, Any]]) -> str:
    parts = []
    for key, (old, new) in changes.items():
        parts.append(f"{key}: {_short(old)} → {_short(new)}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value) or "—"
    text = str(value) if value not in (None, "") else "—"
    return text if len(text) <= 60 else text[:57] + "…"


def save_store_settings(
    values: dict[str, Any], *, apply_low_stock_to_all: bool, actor_id: int
) -> list[str]:
    """Store details and defaults; returns the names of the changed settings."""
    changes = update_store_settings(values)
    if changes:
        audit(
            "settings.store_updated",
            actor_id=actor_id,
            target="store",
            detail=_describe(changes),
        )
    changed = list(changes)
    if "filterable_specifications" in changes:
        catalog_changed()  # listings show other facets
    if apply_low_stock_to_all:
        threshold = values["low_stock_default"]
        result = affected(
            sa.update(Variant)
            .where(Variant.low_stock_threshold != threshold)
            .values(low_stock_threshold=threshold)
            .execution_options(synchronize_session=False)
        )
        count = result or 0
        if count:
            audit(
                "settings.low_stock_applied",
                actor_id=actor_id,
                target="variants",
                detail=f"threshold {threshold} on {count} variant(s)",
            )
            catalog_changed()  # product pages show "only N left" from the threshold
            changed.append(f"low-stock threshold on {count} variant(s)")
    return changed


# --- Shipping methods --------------------------------------------------------------------


@dataclass(frozen=True)
class ShippingInput:
    code: str
    name: str
    countries: list[str]
    price: int
    free_over: int | None
    delivery_days: str
    active: bool
    position: int


SHIPPING_FIELDS = ("code", "name", "countries", "price", "free_over", "delivery_days", "active",
                   "position")  # fmt: skip


def _flush_unique(field: str, message: str, new: object | None = None) -> None:
    """Flush inside a savepoint so a unique clash (two staff saving at once, or a value the
    check before did not see) becomes a field error instead of a failed transaction."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        if new is not None and new in db.session:
            db.session.expunge(new)
        raise SettingsError(message, field=field) from None


def _code_taken(code: str, exclude_id: int | None) -> bool:
    stmt = sa.select(ShippingMethod.id).where(ShippingMethod.code == code)
    if exclude_id is not None:
        stmt = stmt.where(ShippingMethod.id != exclude_id)
    return db.session.execute(stmt.limit(1)).first() is not None


def create_shipping_method(data: ShippingInput, *, currency: str, actor_id: int) -> ShippingMethod:
    if _code_taken(data.code, None):
        raise SettingsError(
            f"Another shipping method already uses the code {data.code}.", field="code"
        )
    method = ShippingMethod(currency=currency, **{f: getattr(data, f) for f in SHIPPING_FIELDS})
    db.session.add(method)
    _flush_unique("code", f"Another shipping method already uses the code {data.code}.", method)
    audit(
        "settings.shipping_created",
        actor_id=actor_id,
        target=f"shipping:{method.code}",
        detail=_describe({f: (None, getattr(method, f)) for f in SHIPPING_FIELDS}),
    )
    return method


def update_shipping_method(
    method: ShippingMethod, data: ShippingInput, *, actor_id: int
) -> list[str]:
    if data.code != method.code and _code_taken(data.code, method.id):
        raise SettingsError(
            f"Another shipping method already uses the code {data.code}.", field="code"
        )
    changes = {}
    for f in SHIPPING_FIELDS:
        old, new = getattr(method, f), getattr(data, f)
        if old != new:
            changes[f] = (old, new)
            setattr(method, f, list(new) if isinstance(new, list) else new)
    if changes:
        _flush_unique("code", f"Another shipping method already uses the code {data.code}.")
        audit(
            "settings.shipping_updated",
            actor_id=actor_id,
            target=f"shipping:{method.code}",
            detail=_describe(changes),
        )
    return list(changes)


def orders_using(method: ShippingMethod) -> int:
    """Orders that name this method (orders store the name they were quoted with)."""
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Order).where(Order.shipping_method == method.name)
    ).scalar_one()


def delete_shipping_method(method: ShippingMethod, *, actor_id: int) -> None:
    used = orders_using(method)
    if used:
        raise SettingsError(
            f"{used} order(s) used {method.name}, so it is kept for the record. "
            "Untick “Offered at checkout” to stop offering it.",
            field="delete",
        )
    audit(
        "settings.shipping_deleted",
        actor_id=actor_id,
        target=f"shipping:{method.code}",
        detail=f"{method.name}, {method.price} {method.currency}",
    )
    db.session.delete(method)
    db.session.flush()


# --- Tax rates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxInput:
    country: str
    region: str
    name: str
    rate_bp: int
    inclusive: bool


TAX_FIELDS = ("country", "region", "name", "rate_bp", "inclusive")


def _tax_label(country: str, region: str) -> str:
    return f"{country}/{region}" if region else country


def _rate_taken(country: str, region: str, exclude_id: int | None) -> bool:
    stmt = sa.select(TaxRate.id).where(TaxRate.country == country, TaxRate.region == region)
    if exclude_id is not None:
        stmt = stmt.where(TaxRate.id != exclude_id)
    return db.session.execute(stmt.limit(1)).first() is not None


def _duplicate_rate(data: TaxInput) -> str:
    where = f"{data.country}, region {data.region}" if data.region else data.country
    return f"There is already a tax rate for {where}; edit that one instead."


def create_tax_rate(data: TaxInput, *, actor_id: int) -> TaxRate:
    if _rate_taken(data.country, data.region, None):
        raise SettingsError(_duplicate_rate(data), field="region" if data.region else "country")
    rate = TaxRate(**{f: getattr(data, f) for f in TAX_FIELDS})
    db.session.add(rate)
    _flush_unique("region" if data.region else "country", _duplicate_rate(data), rate)
    audit(
        "settings.tax_created",
        actor_id=actor_id,
        target=f"tax:{_tax_label(rate.country, rate.region)}",
        detail=_describe({f: (None, getattr(rate, f)) for f in TAX_FIELDS}),
    )
    return rate


def update_tax_rate(rate: TaxRate, data: TaxInput, *, actor_id: int) -> list[str]:
    moved = (data.country, data.region) != (rate.country, rate.region)
    if moved and _rate_taken(data.country, data.region, rate.id):
        raise SettingsError(_duplicate_rate(data), field="region" if data.region else "country")
    changes = {}
    for f in TAX_FIELDS:
        old, new = getattr(rate, f), getattr(data, f)
        if old != new:
            changes[f] = (old, new)
            setattr(rate, f, new)
    if changes:
        _flush_unique("region" if data.region else "country", _duplicate_rate(data))
        audit(
            "settings.tax_updated",
            actor_id=actor_id,
            target=f"tax:{_tax_label(rate.country, rate.region)}",
            detail=_describe(changes),
        )
    return list(changes)


def delete_tax_rate(rate: TaxRate, *, actor_id: int) -> None:
    """Orders keep the tax they were charged, so removing a rate changes only new quotes."""
    audit(
        "settings.tax_deleted",
        actor_id=actor_id,
        target=f"tax:{_tax_label(rate.country, rate.region)}",
        detail=f"{rate.name} {rate.rate_bp} bp, {'inclusive' if rate.inclusive else 'added'}",
    )
    db.session.delete(rate)
    db.session.flush()


def list_shipping_methods() -> list[ShippingMethod]:
    return list(
        db.session.execute(
            sa.select(ShippingMethod).order_by(ShippingMethod.position, ShippingMethod.id)
        ).scalars()
    )


def list_tax_rates() -> list[TaxRate]:
    return list(
        db.session.execute(sa.select(TaxRate).order_by(TaxRate.country, TaxRate.region)).scalars()
    )

"""The store's own details (name, address, contact, VAT number) as shown in emails, invoices
and packing slips, plus the few shop-wide defaults staff set in Settings. One function to read
them so every place shows the same thing.

They live in one row of ``store_settings`` (created by the migration). Until staff save a
name the values come from configuration (SHOP_NAME).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin
from app.extensions import db

SETTINGS_ID = 1
DEFAULT_LOW_STOCK = 5
MAX_LOW_STOCK = 100_000
MAX_ADDRESS_LINES = 6


class StoreSettings(TimestampMixin, Base):
    """Exactly one row (id 1): staff update it, nobody inserts a second one."""

    __tablename__ = "store_settings"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint(
            f"low_stock_default >= 0 AND low_stock_default <= {MAX_LOW_STOCK}",
            name="low_stock_default_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(120), default="")  # "" = SHOP_NAME
    legal_name: Mapped[str] = mapped_column(sa.String(200), default="")
    address_lines: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    email: Mapped[str] = mapped_column(sa.String(320), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    vat_number: Mapped[str] = mapped_column(sa.String(32), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    low_stock_default: Mapped[int] = mapped_column(default=DEFAULT_LOW_STOCK)
    # Specification names shoppers can filter listings by (a facet each), as on products.
    filterable_specifications: Mapped[list[str]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )


@dataclass(frozen=True)
class StoreDetails:
    name: str
    legal_name: str = ""
    address_lines: list[str] = field(default_factory=list)
    email: str = ""
    phone: str = ""
    vat_number: str = ""
    timezone: str = "UTC"  # IANA name; the dashboard's days and documents' dates use it

    @property
    def tzinfo(self) -> ZoneInfo:
        return zone(self.timezone)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def get_store_settings(*, create: bool = False) -> StoreSettings | None:
    """The settings row. The migration creates it; ``create`` restores it if it was removed."""
    row = db.session.get(StoreSettings, SETTINGS_ID)
    if row is None and create:
        row = StoreSettings(id=SETTINGS_ID, address_lines=[])
        db.session.add(row)
        db.session.flush()
    return row


def store_details() -> StoreDetails:
    """What emails, invoices and packing slips print as the seller. Read on each call (one
    primary-key lookup), so a change in Settings shows in the next message rendered."""
    fallback = current_app.config["SHOP_NAME"]
    row = get_store_settings()
    if row is None or not row.name:
        return StoreDetails(
            name=fallback,
            legal_name=(row.legal_name if row else "") or fallback,
            address_lines=list(row.address_lines or []) if row else [],
            email=row.email if row else "",
            phone=row.phone if row else "",
            vat_number=row.vat_number if row else "",
            timezone=row.timezone if row else "UTC",
        )
    return StoreDetails(
        name=row.name,
        legal_name=row.legal_name or row.name,
        address_lines=list(row.address_lines or []),
        email=row.email,
        phone=row.phone,
        vat_number=row.vat_number,
        timezone=row.timezone or "UTC",
    )


def low_stock_default() -> int:
    """The low-stock threshold a new variant starts with (staff may change it per variant)."""
    row = get_store_settings()
    return row.low_stock_default if row is not None else DEFAULT_LOW_STOCK


MAX_FILTERABLE = 5


def filterable_specifications() -> list[str]:
    row = get_store_settings()
    return list(row.filterable_specifications or []) if row is not None else []


def parse_filterable(text: str) -> list[str]:
    """ "Material, Fit" → ["Material", "Fit"]: names as written on products, at most five."""
    names: list[str] = []
    for raw in text.split(","):
        name = " ".join(raw.split())
        if name and name.lower() not in {n.lower() for n in names}:
            if len(name) > 40 or '"' in name or "\\" in name:
                raise ValueError(f"“{name[:40]}” is not a specification name (40 characters).")
            names.append(name)
    if len(names) > MAX_FILTERABLE:
        raise ValueError(f"Shoppers can filter by at most {MAX_FILTERABLE} specifications.")
    return names


def update_store_settings(changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Apply validated values; returns {field: (old, new)} for the ones that changed (the
    caller audits them). Services flush, the entry point commits."""
    row = get_store_settings(create=True)
    assert row is not None
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in changes.items():
        if not hasattr(StoreSettings, key) or key in {"id", "created_at", "updated_at"}:
            raise ValueError(f"not a store setting: {key}")
        old = getattr(row, key)
        if old != value:
            changed[key] = (old, value)
            setattr(row, key, list(value) if isinstance(value, list) else value)
    if changed:
        db.session.flush()
    return changed

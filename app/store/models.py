"""What the shop offers for delivery and charges in tax: staff edit these (admin settings);
checkout prices with them (app/orders/pricing.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class ShippingMethod(TimestampMixin, Base):
    """A flat rate for a set of countries, free above a threshold (staff edit these)."""

    __tablename__ = "shipping_methods"
    __table_args__ = (
        sa.CheckConstraint("price >= 0", name="price_non_negative"),
        sa.CheckConstraint("free_over IS NULL OR free_over > 0", name="free_over_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    countries: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # ISO codes; [] = all
    price: Mapped[int] = mapped_column(sa.BigInteger)
    free_over: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    delivery_days: Mapped[str] = mapped_column(sa.String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class TaxRate(TimestampMixin, Base):
    """VAT/sales tax per country (and optionally region), in basis points (2000 = 20 %)."""

    __tablename__ = "tax_rates"
    __table_args__ = (
        sa.UniqueConstraint("country", "region"),
        sa.CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(120), default="")
    name: Mapped[str] = mapped_column(sa.String(64))
    rate_bp: Mapped[int] = mapped_column()
    inclusive: Mapped[bool] = mapped_column(default=True)  # prices already include it

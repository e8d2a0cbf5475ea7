from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class StockReason(enum.StrEnum):
    INITIAL = "initial"
    ADJUSTMENT = "adjustment"
    RESERVATION = "reservation"
    RELEASE = "release"
    SALE = "sale"
    RETURN = "return"
    # Staff adjustments (admin inventory); at most 16 characters, like the column.
    RECEIPT = "receipt"
    COUNT_CORRECTION = "count_correction"
    DAMAGE = "damage"
    OTHER = "other"


class StockMovement(Base):
    """Ledger of every stock change: on-hand and reserved deltas, why, who and when."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        sa.Index("ix_stock_movements_variant_created", "variant_id", "created_at"),
        # What an order holds is the sum of its lines in the ledger (app/inventory).
        sa.Index("ix_stock_movements_reference_variant", "reference", "variant_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("variants.id", ondelete="CASCADE"))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.String(250), default="")
    actor_id: Mapped[int | None] = mapped_column()
    reference: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PriceChange(Base):
    """History of a variant's price, for staff and for "was X" displays."""

    __tablename__ = "price_changes"
    __table_args__ = (sa.Index("ix_price_changes_variant_created", "variant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("variants.id", ondelete="CASCADE"))
    old_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    new_price: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    actor_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin

if TYPE_CHECKING:
    from app.catalog.models.product import Product


class Variant(TimestampMixin, Base):
    """A buyable SKU. The database itself refuses bad money and stock numbers."""

    __tablename__ = "variants"
    __table_args__ = (
        sa.CheckConstraint("price > 0", name="price_positive"),
        sa.CheckConstraint(
            "compare_at_price IS NULL OR compare_at_price > price", name="compare_at_above_price"
        ),
        sa.CheckConstraint("stock_on_hand >= 0", name="stock_non_negative"),
        sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        sa.CheckConstraint("reserved <= stock_on_hand", name="reserved_within_stock"),
        sa.CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(sa.String(64), unique=True)
    options: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    price: Mapped[int] = mapped_column(sa.BigInteger)
    compare_at_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    stock_on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    track_inventory: Mapped[bool] = mapped_column(default=True)
    low_stock_threshold: Mapped[int] = mapped_column(default=5)
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="variants")

    @property
    def available(self) -> int | None:
        """Units a shopper can still buy; ``None`` means not tracked (always available)."""
        if not self.track_inventory:
            return None
        return max(self.stock_on_hand - self.reserved, 0)

    @property
    def is_available(self) -> bool:
        return not self.track_inventory or self.stock_on_hand - self.reserved > 0

    @property
    def options_label(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self.options.items())

    def __repr__(self) -> str:
        return f"<Variant {self.sku}>"

"""The checkout details an API client set for its cart (the website keeps them in the
session cookie, which the API never uses). One row per cart; it goes with the cart."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin


class ApiCheckout(TimestampMixin, Base):
    __tablename__ = "api_checkouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)  # None: same
    shipping_method: Mapped[str] = mapped_column(sa.String(32))

    def __repr__(self) -> str:
        return f"<ApiCheckout cart={self.cart_id}>"

"""Shoppers waiting for a sold-out variant to come back."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Variant
from app.db import Base, utcnow


class StockWaiter(Base):
    """One shopper's "tell me when it is back" for one variant. ``notified_at`` is set (with
    a conditional UPDATE) when the one e-mail is queued; asking again after that waits again."""

    __tablename__ = "stock_waiters"
    __table_args__ = (
        sa.UniqueConstraint("variant_id", "email"),
        sa.Index("ix_stock_waiters_variant_waiting", "variant_id", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("variants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(320))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column()

    variant: Mapped[Variant] = relationship()

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, one_of


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for staff
    APPROVED = "approved"  # shown on the product
    REJECTED = "rejected"


class Review(TimestampMixin, Base):
    """One customer's review of one product (one each: writing again edits it and sends it
    back to moderation). Only buyers write them, so each is a verified purchase."""

    __tablename__ = "reviews"
    __table_args__ = (
        sa.UniqueConstraint("product_id", "user_id"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        one_of("status", ReviewStatus, name="status_valid"),
        sa.Index("ix_reviews_product_status", "product_id", "status", "created_at"),
        sa.Index("ix_reviews_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(sa.String(60))  # "Ada L.", as shown
    rating: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(sa.String(120), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=ReviewStatus.PENDING)
    staff_reply: Mapped[str] = mapped_column(sa.Text, default="")
    moderated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None] = mapped_column()
    moderation_note: Mapped[str] = mapped_column(sa.String(255), default="")

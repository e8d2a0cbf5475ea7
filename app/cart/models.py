from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, utcnow

if TYPE_CHECKING:
    from app.catalog.models import Variant


class Cart(TimestampMixin, Base):
    """A shopper's cart, in the database (never in the cookie).

    Guests are identified by a random token (256 bits) kept in their signed, HttpOnly session
    cookie; signed-in users by ``user_id`` (one cart each). Nothing else can reach a cart.
    """

    __tablename__ = "carts"
    __table_args__ = (
        sa.CheckConstraint("user_id IS NOT NULL OR token IS NOT NULL", name="has_owner"),
        sa.Index("ix_carts_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    expires_at: Mapped[datetime] = mapped_column()
    # The voucher code the shopper applied (one per cart), as stored (upper case). Whether
    # it still gives anything is worked out on every read (app/promotions/services.py).
    voucher_code: Mapped[str | None] = mapped_column(sa.String(40))
    # When the one "you left something in your cart" e-mail went (app/cart/recovery.py).
    recovery_sent_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", order_by="CartLine.id", cascade="all, delete-orphan"
    )


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (
        sa.UniqueConstraint("cart_id", "variant_id"),
        sa.CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("variants.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column()
    unit_price_snapshot: Mapped[int] = mapped_column(sa.BigInteger)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="lines")
    variant: Mapped[Variant] = relationship()


class CartMerge(Base):
    """A guest cart merged into an account's cart at sign-in (app.cart.merge
    .merge_guest_cart), kept by the guest cart's token hash. The guest cart is gone after the
    merge; a guest order placed from it and paid later through Stripe's recovery link finds
    here the account its shopper signed in to, and when (app.checkout.revival). Recorded only
    for a guest cart with such an order. It goes with the account, not with the account's
    cart, which may expire and be made anew meanwhile."""

    __tablename__ = "cart_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedItem(Base):
    """ "Save for later": per user, or per guest cart until the guest signs in."""

    __tablename__ = "saved_items"
    __table_args__ = (
        sa.UniqueConstraint("cart_id", "variant_id"),
        sa.UniqueConstraint("user_id", "variant_id"),
        sa.CheckConstraint("user_id IS NOT NULL OR cart_id IS NOT NULL", name="has_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    cart_id: Mapped[int | None] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("variants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    variant: Mapped[Variant] = relationship()

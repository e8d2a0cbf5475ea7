"""Promotions, their voucher codes, and the discounts each order was given."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, one_of, utcnow


class Benefit(enum.StrEnum):
    PERCENT = "percent"  # ``value`` per cent off the eligible lines
    AMOUNT = "amount"  # ``value`` minor units off the eligible lines, spread over them
    FREE_SHIPPING = "free_shipping"


class Scope(enum.StrEnum):
    ORDER = "order"  # every line
    ITEMS = "items"  # lines of ``product_ids`` or of ``category_ids`` (and their subcategories)


class UseState(enum.StrEnum):
    HELD = "held"  # the order is placed and unpaid: the use is taken, not yet counted as paid
    USED = "used"  # the order was paid
    RELEASED = "released"  # the unpaid order expired or was cancelled: the use is free again


class Promotion(TimestampMixin, Base):
    """A discount rule. With ``requires_code`` it applies only through one of its codes
    (:class:`VoucherCode`); without, it applies by itself to every cart it fits
    ("automatic"), and ``combines_with_codes`` says whether a code may add to it.

    ``uses`` counts orders holding or having paid with it (a conditional UPDATE against
    ``usage_limit``, so concurrent checkouts can never pass the limit)."""

    __tablename__ = "promotions"
    __table_args__ = (
        one_of("benefit", Benefit, name="benefit_valid"),
        one_of("scope", Scope, name="scope_valid"),
        sa.CheckConstraint(
            "(benefit = 'percent' AND value BETWEEN 1 AND 100) "
            "OR (benefit = 'amount' AND value > 0) OR (benefit = 'free_shipping' AND value = 0)",
            name="value_valid",
        ),
        sa.CheckConstraint("min_subtotal >= 0", name="min_subtotal_non_negative"),
        sa.CheckConstraint("usage_limit IS NULL OR usage_limit > 0", name="usage_limit_positive"),
        sa.CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0",
            name="per_customer_limit_positive",
        ),
        # Past the limit only by a payment that arrived after its checkout expired
        # (app/promotions/uses.py): new uses are taken with ``uses < usage_limit``.
        sa.CheckConstraint("uses >= 0", name="uses_non_negative"),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at", name="window_valid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))  # shown to shoppers on the discount line
    requires_code: Mapped[bool] = mapped_column(default=True)
    benefit: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    scope: Mapped[str] = mapped_column(sa.String(8), default=Scope.ORDER)
    product_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    category_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    min_subtotal: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    usage_limit: Mapped[int | None] = mapped_column()
    per_customer_limit: Mapped[int | None] = mapped_column()
    combines_with_codes: Mapped[bool] = mapped_column(default=False)
    paused: Mapped[bool] = mapped_column(default=False)
    uses: Mapped[int] = mapped_column(default=0, server_default="0")

    codes: Mapped[list[VoucherCode]] = relationship(
        back_populates="promotion", order_by="VoucherCode.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Promotion {self.id} {self.name!r}>"


class VoucherCode(Base):
    """A code shoppers type (stored upper case). ``usage_limit`` 1 makes it single-use (the
    bulk-generated codes); ``uses`` is counted like the promotion's."""

    __tablename__ = "voucher_codes"
    __table_args__ = (
        sa.CheckConstraint("usage_limit IS NULL OR usage_limit > 0", name="usage_limit_positive"),
        sa.CheckConstraint("uses >= 0", name="uses_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(
        sa.ForeignKey("promotions.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    usage_limit: Mapped[int | None] = mapped_column()
    uses: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    promotion: Mapped[Promotion] = relationship(back_populates="codes")


class OrderDiscount(Base):
    """A discount an order was given, as it was given (the promotion may change later): the
    line the order, its emails and invoice show, and one use of the promotion (and code)
    whose ``state`` follows the order (held → used, or held → released)."""

    __tablename__ = "order_discounts"
    __table_args__ = (
        one_of("state", UseState, name="state_valid"),
        sa.CheckConstraint("amount >= 0", name="amount_non_negative"),
        sa.CheckConstraint("target IN ('items', 'shipping')", name="target_valid"),
        sa.Index("ix_order_discounts_promotion_state", "promotion_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    promotion_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("promotions.id", ondelete="SET NULL")
    )
    voucher_code_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("voucher_codes.id", ondelete="SET NULL")
    )
    code: Mapped[str] = mapped_column(sa.String(40), default="")
    name: Mapped[str] = mapped_column(sa.String(200))  # the promotion's, when it was given
    target: Mapped[str] = mapped_column(sa.String(8), default="items")
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.String(10), default=UseState.HELD)
    # Who used it, for per-customer limits (the order's user, else its e-mail address).
    user_id: Mapped[int | None] = mapped_column(index=True)
    email: Mapped[str] = mapped_column(sa.String(320), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "code": self.code,
            "target": self.target,
            "amount": self.amount,
        }

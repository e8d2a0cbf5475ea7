from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, utcnow


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAYMENT_FAILED = "payment_failed"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    REFUNDED = "refunded"


_STATUSES = ", ".join(f"'{s}'" for s in OrderStatus)


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


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="status_valid"),
        sa.CheckConstraint(
            "subtotal >= 0 AND shipping >= 0 AND tax >= 0 AND discount >= 0 AND total >= 0",
            name="amounts_non_negative",
        ),
        sa.Index("ix_orders_user_created", "user_id", "created_at"),
        sa.Index("ix_orders_status_reservation", "status", "reservation_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(sa.String(320))
    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal: Mapped[int] = mapped_column(sa.BigInteger)
    shipping: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax_inclusive: Mapped[bool] = mapped_column(default=True)
    discount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_method: Mapped[str] = mapped_column(sa.String(120), default="")
    shipping_address: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    billing_address: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), default=OrderStatus.PENDING_PAYMENT)
    reservation_expires_at: Mapped[datetime | None] = mapped_column()
    reservation_released_at: Mapped[datetime | None] = mapped_column()
    stock_committed_at: Mapped[datetime | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    needs_attention: Mapped[str] = mapped_column(sa.String(255), default="")
    cart_id: Mapped[int | None] = mapped_column()

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order", order_by="Payment.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    """A snapshot: what was bought at what price, whatever the catalog does later."""

    __tablename__ = "order_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price > 0 AND line_total >= 0 AND tax >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("variants.id", ondelete="SET NULL")
    )
    product_name: Mapped[str] = mapped_column(sa.String(200))
    variant_options: Mapped[str] = mapped_column(sa.String(255), default="")
    sku: Mapped[str] = mapped_column(sa.String(64))
    unit_price: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column()
    tax: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    line_total: Mapped[int] = mapped_column(sa.BigInteger)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(Base):
    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str] = mapped_column(sa.String(20), default="")
    to_status: Mapped[str] = mapped_column(sa.String(20))
    actor_id: Mapped[int | None] = mapped_column()
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'expired', 'refunded', "
            "'partially_refunded')",
            name="status_valid",
        ),
        sa.CheckConstraint(
            "amount >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount", name="amounts"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(16))
    session_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    payment_intent: Mapped[str] = mapped_column(sa.String(255), default="")
    attempt: Mapped[int] = mapped_column(default=1)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    amount_refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(24), default="pending")
    failure_reason: Mapped[str] = mapped_column(sa.String(255), default="")
    fulfilled_at: Mapped[datetime | None] = mapped_column()

    order: Mapped[Order] = relationship(back_populates="payments")

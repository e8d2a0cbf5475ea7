from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, one_of, utcnow

if TYPE_CHECKING:
    from app.payments.models import Dispute, Payment
    from app.promotions.models import OrderDiscount


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


class CancelReason(enum.StrEnum):
    """Why an order was cancelled; decides what a payment arriving afterwards does."""

    EXPIRED = "expired"  # nobody paid in time (the provider says the session expired)
    REPLACED = "replaced"  # the cart was paid for with a newer order
    STAFF = "staff"
    CUSTOMER = "customer"


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        one_of("status", OrderStatus, name="status_valid"),
        sa.CheckConstraint(
            "subtotal >= 0 AND shipping >= 0 AND tax >= 0 AND discount >= 0 AND total >= 0",
            name="amounts_non_negative",
        ),
        sa.Index("ix_orders_user_created", "user_id", "created_at"),
        sa.Index("ix_orders_status_reservation", "status", "reservation_expires_at"),
        sa.Index("ix_orders_cart_id", "cart_id"),
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
    paid_at: Mapped[datetime | None] = mapped_column(index=True)  # the dashboard's windows
    needs_attention: Mapped[str] = mapped_column(sa.String(255), default="")
    cart_id: Mapped[int | None] = mapped_column()
    # A guest order's proof of ownership besides cart_id: SHA-256 of the guest cart's token
    # (SQLite reuses a deleted cart's id; a token is never reused).
    cart_token_hash: Mapped[str | None] = mapped_column(sa.String(64))
    carrier: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    tracking_number: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    tracking_url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    shipped_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    # When the shopper last accepted the shop's terms for this order (the press of Pay).
    terms_accepted_at: Mapped[datetime | None] = mapped_column()
    # When the customer was asked to review what they bought (once, app/reviews/requests.py).
    review_requested_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order", order_by="Payment.id", cascade="all, delete-orphan"
    )
    disputes: Mapped[list[Dispute]] = relationship(
        back_populates="order", order_by="Dispute.id", passive_deletes=True
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", order_by="Refund.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[OrderNote]] = relationship(
        back_populates="order", order_by="OrderNote.id", cascade="all, delete-orphan"
    )
    discounts: Mapped[list[OrderDiscount]] = relationship(
        order_by="OrderDiscount.id", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def free_shipping(self) -> OrderDiscount | None:
        return next((d for d in self.discounts if d.target == "shipping"), None)


class OrderLine(Base):
    """A snapshot: what was bought at what price, whatever the catalog does later."""

    __tablename__ = "order_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price > 0 AND line_total >= 0 AND tax >= 0", name="amounts"),
        sa.CheckConstraint("discount >= 0 AND discount <= line_total", name="discount_range"),
        sa.CheckConstraint(
            "quantity_refunded >= 0 AND quantity_refunded <= quantity", name="refunded_range"
        ),
        sa.CheckConstraint(
            "quantity_restocked >= 0 AND quantity_restocked <= quantity", name="restocked_range"
        ),
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
    # The line's share of the order's discounts: it was paid line_total - discount (+ tax
    # when prices exclude it), and refunds of its units give back that, unit by unit.
    discount: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # Claimed by refunds with conditional UPDATEs, so neither can pass the quantity sold.
    quantity_refunded: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_restocked: Mapped[int] = mapped_column(default=0, server_default="0")

    order: Mapped[Order] = relationship(back_populates="lines")

    @property
    def gross(self) -> int:
        """What the customer paid for the whole line, after discounts, tax included."""
        return self.line_total - self.discount + (0 if self.order.tax_inclusive else self.tax)


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


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(TimestampMixin, Base):
    """Money given back on one payment: for some order lines (amount computed from them) or
    a plain amount. Asked of the provider after commit with ``idempotency_key``; settled by
    the provider's answer or its webhook, whichever comes first."""

    __tablename__ = "refunds"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        one_of("status", RefundStatus, name="status_valid"),
        sa.CheckConstraint("kind IN ('lines', 'amount', 'cancel')", name="kind_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    payment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str] = mapped_column(sa.String(255), default="")
    restock: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=RefundStatus.PENDING)
    provider_refund_id: Mapped[str] = mapped_column(sa.String(255), default="", index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    failure_reason: Mapped[str] = mapped_column(sa.String(255), default="")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    settled_at: Mapped[datetime | None] = mapped_column()

    order: Mapped[Order] = relationship(back_populates="refunds")
    payment: Mapped[Payment] = relationship()
    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="refund", order_by="RefundLine.id", cascade="all, delete-orphan"
    )


class RefundLine(Base):
    __tablename__ = "refund_lines"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("amount >= 0", name="amount_non_negative"),
        sa.CheckConstraint("restocked >= 0 AND restocked <= quantity", name="restocked_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(
        sa.ForeignKey("refunds.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    restocked: Mapped[int] = mapped_column(default=0)

    refund: Mapped[Refund] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()


class OrderNote(Base):
    """A staff note on an order. Append-only: never edited or deleted."""

    __tablename__ = "order_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    author_email: Mapped[str] = mapped_column(sa.String(320), default="")
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="notes")

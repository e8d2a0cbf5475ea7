from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, one_of, utcnow

if TYPE_CHECKING:
    from app.orders.models import Order


class EventStatus(enum.StrEnum):
    """A stored provider event on its way through the handler."""

    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"  # a type the shop does not act on
    FAILED = "failed"  # retried by the sweeper
    DEAD = "dead"  # gave up; staff are alerted and may replay it


RETRYABLE_EVENTS = (EventStatus.RECEIVED, EventStatus.FAILED)


class WebhookEvent(Base):
    """Every verified Stripe event, stored before it is processed (unique by event id, so a
    duplicate delivery is acknowledged and ignored); a sweeper re-drives unprocessed ones."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        one_of("status", EventStatus, name="status_valid"),
        sa.Index("ix_webhook_events_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()


class SandboxSession(Base):
    """The offline payment sandbox's stand-in for a Stripe Checkout Session (development)."""

    __tablename__ = "sandbox_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    payment_status: Mapped[str] = mapped_column(sa.String(16), default="unpaid")
    amount_total: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    customer_email: Mapped[str] = mapped_column(sa.String(320), default="")
    client_reference_id: Mapped[str] = mapped_column(sa.String(255), default="")
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", sa.JSON, default=dict)
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    success_url: Mapped[str] = mapped_column(sa.Text)
    cancel_url: Mapped[str] = mapped_column(sa.Text)
    payment_intent: Mapped[str] = mapped_column(sa.String(64), default="")
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger)
    # A returning customer's session: their cards are offered and a new one may be saved.
    customer: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentStatus(enum.StrEnum):
    """A payment row: one Checkout Session and what became of it."""

    PENDING = "pending"  # the session is open (or its outcome not known yet)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # closed unpaid (expired by the provider, or replaced by the shop)
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


TAKEN_PAYMENTS = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
)  # money was taken
REFUNDABLE_PAYMENTS = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        one_of("status", PaymentStatus, name="status_valid"),
        sa.CheckConstraint(
            "amount >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount", name="amounts"
        ),
        sa.CheckConstraint("amount_refund_pending >= 0", name="refund_pending_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(sa.String(16))
    session_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    # Where the shopper pays, as the create answer gave it (a retry sends them there again).
    checkout_url: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column()  # when the provider closes it
    payment_intent: Mapped[str] = mapped_column(sa.String(255), default="")
    attempt: Mapped[int] = mapped_column(default=1)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    amount_refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Refunds asked of the provider and not settled yet; they count against what is left.
    amount_refund_pending: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(24), default=PaymentStatus.PENDING)
    failure_reason: Mapped[str] = mapped_column(sa.String(255), default="")
    fulfilled_at: Mapped[datetime | None] = mapped_column()

    order: Mapped[Order] = relationship(back_populates="payments")

    @property
    def refundable(self) -> int:
        return max(0, self.amount - self.amount_refunded - self.amount_refund_pending)


class DisputeStatus(enum.StrEnum):
    """Stripe's dispute statuses (docs.stripe.com/api/disputes/object#dispute_object-status).
    ``warning_*``: an inquiry (no money moved yet); the others a chargeback."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    PREVENTED = "prevented"


CLOSED_DISPUTES = (
    DisputeStatus.WARNING_CLOSED,
    DisputeStatus.WON,
    DisputeStatus.LOST,
    DisputeStatus.PREVENTED,
)
RESPONSE_NEEDED = (DisputeStatus.WARNING_NEEDS_RESPONSE, DisputeStatus.NEEDS_RESPONSE)


class Dispute(TimestampMixin, Base):
    """A card dispute (chargeback or inquiry) as Stripe's ``charge.dispute.*`` events last
    described it. Only what staff act on is kept: the amount, the reason, the state and the
    deadline for evidence, which is submitted in Stripe's Dashboard."""

    __tablename__ = "disputes"
    __table_args__ = (
        one_of("status", DisputeStatus, name="status_valid"),
        sa.CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    # None when no payment of the shop has the charge's payment intent (staff are told).
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    payment_intent: Mapped[str] = mapped_column(sa.String(255), default="")
    charge: Mapped[str] = mapped_column(sa.String(255), default="")
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[str] = mapped_column(sa.String(32))
    evidence_due_by: Mapped[datetime | None] = mapped_column()
    livemode: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column()
    # The provider's time of the newest event applied: an older one arriving late is ignored.
    event_created: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    order: Mapped[Order | None] = relationship(back_populates="disputes")

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_DISPUTES

    @property
    def needs_response(self) -> bool:
        return self.status in RESPONSE_NEEDED


class PaymentCustomer(TimestampMixin, Base):
    """An account's customer at the payment provider (Stripe's ``cus_…``), made at its first
    checkout; one per account and provider. Saved cards live at the provider, under it; the
    shop keeps no card data. ``email``/``name``: what the provider was last told."""

    __tablename__ = "payment_customers"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "provider", name="uq_payment_customers_user_provider"),
        sa.UniqueConstraint("provider", "customer_id", name="uq_payment_customers_customer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(sa.String(16))
    customer_id: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str] = mapped_column(sa.String(320))
    name: Mapped[str] = mapped_column(sa.String(120))


class SandboxCustomer(Base):
    """The offline sandbox's stand-in for a Stripe Customer (development)."""

    __tablename__ = "sandbox_customers"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    name: Mapped[str] = mapped_column(sa.String(120))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxCard(Base):
    """A card the sandbox's TEST MODE page saved for a customer who agreed to it."""

    __tablename__ = "sandbox_cards"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("sandbox_customers.id", ondelete="CASCADE"), index=True
    )
    brand: Mapped[str] = mapped_column(sa.String(16))
    last4: Mapped[str] = mapped_column(sa.String(4))
    exp_month: Mapped[int] = mapped_column()
    exp_year: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

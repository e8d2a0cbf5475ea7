from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, one_of, utcnow


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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

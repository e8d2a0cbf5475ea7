from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, one_of


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Category(enum.StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"
    STAFF = "staff"


class Status(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # a transient failure; retried at next_attempt_at
    DEAD = "dead"  # gave up after MAX attempts, or a permanent failure
    SUPPRESSED = "suppressed"  # the recipient opted out; recorded, not silently dropped


class Notification(TimestampMixin, Base):
    """The durable outbox: one row per message to one recipient on one channel.

    Only the template name and its variables are stored; the message is rendered at send
    time. The row, not the Huey task, is the source of truth: a sweeper re-enqueues rows that
    a lost task left behind, and a conditional UPDATE claims a row so it is sent at most once.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        one_of("status", Status, name="status_valid"),
        one_of("channel", Channel, name="channel_valid"),
        one_of("category", Category, name="category_valid"),
        sa.Index("ix_notifications_status_next_attempt", "status", "next_attempt_at"),
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column()
    to_address: Mapped[str] = mapped_column(sa.String(320))
    channel: Mapped[str] = mapped_column(sa.String(16))
    template: Mapped[str] = mapped_column(sa.String(64))
    variables: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    category: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default=Status.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    provider: Mapped[str] = mapped_column(sa.String(32), default="")
    provider_message_id: Mapped[str] = mapped_column(sa.String(255), default="")
    scheduled_for: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    campaign_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.channel}:{self.template} {self.status}>"


class NotificationPreference(TimestampMixin, Base):
    """A user's choice for one channel and category. Absent rows mean the default."""

    __tablename__ = "notification_preferences"
    __table_args__ = (sa.UniqueConstraint("user_id", "channel", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(16))
    enabled: Mapped[bool] = mapped_column()


class Suppression(TimestampMixin, Base):
    """An address that unsubscribed from a category (works for people without an account)."""

    __tablename__ = "notification_suppressions"
    __table_args__ = (sa.UniqueConstraint("address", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(320))
    category: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.String(64), default="unsubscribe")


class DeliveryEvent(Base):
    """What the provider saw happen to a message after it took it (Brevo's transactional
    webhook): delivered, opened, clicked, bounced, complained about. Stored once per
    (provider, message, event, moment): providers deliver webhooks at least once."""

    __tablename__ = "notification_events"
    __table_args__ = (
        sa.UniqueConstraint("provider", "message_id", "event", "occurred_at"),
        sa.Index("ix_notification_events_notification", "notification_id", "event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(sa.String(32))
    message_id: Mapped[str] = mapped_column(sa.String(255))
    event: Mapped[str] = mapped_column(
        sa.String(32)
    )  # normalised: see app/notifications/delivery.py
    email: Mapped[str] = mapped_column(sa.String(320), default="")
    detail: Mapped[str] = mapped_column(sa.String(255), default="")  # a bounce's reason, a link
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"


class Campaign(TimestampMixin, Base):
    """A marketing e-mail staff write once and send to every customer who agreed to
    marketing e-mail, now or at ``scheduled_for``. Sending writes one outbox row per
    recipient, in batches; ``cursor_user_id`` (the last user given a row, in the same
    transaction as the rows) makes a batch that died resume without sending twice."""

    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("status", CampaignStatus, name="status_valid"),
        sa.Index("ix_campaigns_status_scheduled", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))  # for staff
    template: Mapped[str] = mapped_column(sa.String(64), default="newsletter")
    headline: Mapped[str] = mapped_column(sa.String(150))  # the subject and the heading
    body_text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=CampaignStatus.DRAFT)
    scheduled_for: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    audience: Mapped[int] = mapped_column(default=0)  # recipients counted when sending began
    queued: Mapped[int] = mapped_column(default=0)  # outbox rows written so far
    cursor_user_id: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

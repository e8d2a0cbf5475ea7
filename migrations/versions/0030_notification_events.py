"""notification_events: what the provider saw happen to messages (delivered, opened, clicked,
bounced, complaints), from Brevo's webhook

Revision ID: 0030_notification_events
Revises: 0029_stock_waiters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_notification_events"
down_revision = "0029_stock_waiters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_events_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_events")),
        sa.UniqueConstraint(
            "provider",
            "message_id",
            "event",
            "occurred_at",
            name=op.f("uq_notification_events_provider_message_id_event_occurred_at"),
        ),
    )
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_events_notification", ["notification_id", "event"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_events_notification")

    op.drop_table("notification_events")

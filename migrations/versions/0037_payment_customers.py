"""Accounts' customers at the payment provider, and the sandbox's customers and saved cards

Revision ID: 0037_payment_customers
Revises: 0036_disputes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037_payment_customers"
down_revision = "0036_disputes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_customers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_customers_idempotency_key")),
    )
    op.create_table(
        "payment_customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_payment_customers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_customers")),
        sa.UniqueConstraint("provider", "customer_id", name="uq_payment_customers_customer"),
        sa.UniqueConstraint("user_id", "provider", name="uq_payment_customers_user_provider"),
    )
    op.create_table(
        "sandbox_cards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("brand", sa.String(length=16), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["sandbox_customers.id"],
            name=op.f("fk_sandbox_cards_customer_id_sandbox_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_cards")),
    )
    with op.batch_alter_table("sandbox_cards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sandbox_cards_customer_id"), ["customer_id"], unique=False
        )

    # Plain ADD COLUMN (no batch table copy on SQLite).
    op.add_column(
        "sandbox_sessions",
        sa.Column("customer", sa.String(length=64), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sandbox_sessions", "customer")

    with op.batch_alter_table("sandbox_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_cards_customer_id"))

    op.drop_table("sandbox_cards")
    op.drop_table("payment_customers")
    op.drop_table("sandbox_customers")

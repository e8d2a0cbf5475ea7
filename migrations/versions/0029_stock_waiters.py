"""stock_waiters: shoppers waiting for a sold-out variant to come back in stock

Revision ID: 0029_stock_waiters
Revises: 0028_promotion_uses_overrun
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_stock_waiters"
down_revision = "0028_promotion_uses_overrun"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_waiters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_stock_waiters_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_stock_waiters_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_waiters")),
        sa.UniqueConstraint("variant_id", "email", name=op.f("uq_stock_waiters_variant_id_email")),
    )
    with op.batch_alter_table("stock_waiters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_waiters_variant_waiting", ["variant_id", "notified_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_waiters", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_waiters_variant_waiting")

    op.drop_table("stock_waiters")

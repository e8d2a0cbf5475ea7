"""Cart merges: a guest cart's token hash kept on the account cart it was merged into at
sign-in, so that guest's expired checkout paid later through Stripe's recovery link finds the
cart its shopper uses now

Revision ID: 0041_cart_merges
Revises: 0040_profile_pictures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0041_cart_merges"
down_revision = "0040_profile_pictures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cart_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f("fk_cart_merges_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_merges")),
    )
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cart_merges_cart_id"), ["cart_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cart_merges_token_hash"), ["token_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cart_merges_token_hash"))
        batch_op.drop_index(batch_op.f("ix_cart_merges_cart_id"))
    op.drop_table("cart_merges")

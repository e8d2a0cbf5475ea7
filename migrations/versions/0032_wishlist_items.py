"""wishlist_items: products signed-in shoppers keep on their wishlist

Revision ID: 0032_wishlist_items
Revises: 0031_campaigns_recovery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_wishlist_items"
down_revision = "0031_campaigns_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wishlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_wishlist_items_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wishlist_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wishlist_items")),
        sa.UniqueConstraint(
            "user_id", "product_id", name=op.f("uq_wishlist_items_user_id_product_id")
        ),
    )
    with op.batch_alter_table("wishlist_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wishlist_items_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("wishlist_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wishlist_items_product_id"))

    op.drop_table("wishlist_items")

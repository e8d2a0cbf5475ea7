"""Cart merges kept by account: the account cart a guest cart went into may expire and be
made anew before the guest's recovery link is paid (30 days), so a merge names the account

Revision ID: 0042_cart_merges_by_account
Revises: 0041_cart_merges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042_cart_merges_by_account"
down_revision = "0041_cart_merges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE cart_merges SET user_id ="
        " (SELECT carts.user_id FROM carts WHERE carts.id = cart_merges.cart_id)"
    )
    op.execute("DELETE FROM cart_merges WHERE user_id IS NULL")
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cart_merges_cart_id"))
        batch_op.drop_constraint(batch_op.f("fk_cart_merges_cart_id_carts"), type_="foreignkey")
        batch_op.drop_column("cart_id")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cart_merges_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_cart_merges_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cart_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE cart_merges SET cart_id ="
        " (SELECT carts.id FROM carts WHERE carts.user_id = cart_merges.user_id)"
    )
    op.execute("DELETE FROM cart_merges WHERE cart_id IS NULL")
    with op.batch_alter_table("cart_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cart_merges_user_id"))
        batch_op.drop_constraint(batch_op.f("fk_cart_merges_user_id_users"), type_="foreignkey")
        batch_op.drop_column("user_id")
        batch_op.alter_column("cart_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cart_merges_cart_id_carts"),
            "carts",
            ["cart_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_cart_merges_cart_id"), ["cart_id"], unique=False)

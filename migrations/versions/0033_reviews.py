"""reviews: buyers' ratings and reviews, moderated; the products' approved-review summary;
when each order's customer was asked for a review

Revision ID: 0033_reviews
Revises: 0032_wishlist_items

Columns on products and orders are added with a plain ALTER TABLE (no batch copy on
SQLite: the products table carries the search index's triggers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_reviews"
down_revision = "0032_wishlist_items"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=60), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("staff_reply", sa.Text(), nullable=False),
        sa.Column("moderated_by", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moderation_note", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_reviews_status_valid")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["moderated_by"],
            ["users.id"],
            name=op.f("fk_reviews_moderated_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_reviews_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("product_id", "user_id", name=op.f("uq_reviews_product_id_user_id")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reviews_product_status", ["product_id", "status", "created_at"], unique=False
        )
        batch_op.create_index("ix_reviews_status_created", ["status", "created_at"], unique=False)

    op.add_column(
        "orders", sa.Column("review_requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "products", sa.Column("rating_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "products", sa.Column("rating_sum", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("products", "rating_sum")
    op.drop_column("products", "rating_count")
    op.drop_column("orders", "review_requested_at")

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_status_created")
        batch_op.drop_index("ix_reviews_product_status")

    op.drop_table("reviews")

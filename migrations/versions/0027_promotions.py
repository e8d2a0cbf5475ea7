"""Promotions, voucher codes and the discounts orders were given; the cart's code; each order
line's share of the discounts

Revision ID: 0027_promotions
Revises: 0026_filterable_specifications
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_promotions"
down_revision = "0026_filterable_specifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("requires_code", sa.Boolean(), nullable=False),
        sa.Column("benefit", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        sa.Column("category_ids", sa.JSON(), nullable=False),
        sa.Column("min_subtotal", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("combines_with_codes", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(benefit = 'percent' AND value BETWEEN 1 AND 100) OR (benefit = 'amount' AND value > 0) OR (benefit = 'free_shipping' AND value = 0)",
            name=op.f("ck_promotions_value_valid"),
        ),
        sa.CheckConstraint(
            "benefit IN ('percent', 'amount', 'free_shipping')",
            name=op.f("ck_promotions_benefit_valid"),
        ),
        sa.CheckConstraint("scope IN ('order', 'items')", name=op.f("ck_promotions_scope_valid")),
        sa.CheckConstraint(
            "min_subtotal >= 0", name=op.f("ck_promotions_min_subtotal_non_negative")
        ),
        sa.CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0",
            name=op.f("ck_promotions_per_customer_limit_positive"),
        ),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at",
            name=op.f("ck_promotions_window_valid"),
        ),
        sa.CheckConstraint(
            "usage_limit IS NULL OR usage_limit > 0",
            name=op.f("ck_promotions_usage_limit_positive"),
        ),
        sa.CheckConstraint(
            "uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)",
            name=op.f("ck_promotions_uses_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_table(
        "voucher_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "usage_limit IS NULL OR usage_limit > 0",
            name=op.f("ck_voucher_codes_usage_limit_positive"),
        ),
        sa.CheckConstraint(
            "uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)",
            name=op.f("ck_voucher_codes_uses_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_voucher_codes_promotion_id_promotions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_voucher_codes_code")),
    )
    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voucher_codes_promotion_id"), ["promotion_id"], unique=False
        )

    op.create_table(
        "order_discounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("promotion_id", sa.Integer(), nullable=True),
        sa.Column("voucher_code_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('held', 'used', 'released')", name=op.f("ck_order_discounts_state_valid")
        ),
        sa.CheckConstraint(
            "target IN ('items', 'shipping')", name=op.f("ck_order_discounts_target_valid")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_order_discounts_amount_non_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_discounts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotions.id"],
            name=op.f("fk_order_discounts_promotion_id_promotions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["voucher_code_id"],
            ["voucher_codes.id"],
            name=op.f("fk_order_discounts_voucher_code_id_voucher_codes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_discounts")),
    )
    with op.batch_alter_table("order_discounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_discounts_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_discounts_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_order_discounts_promotion_state", ["promotion_id", "state"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_discounts_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voucher_code", sa.String(length=40), nullable=True))

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_order_lines_discount_range"), "discount >= 0 AND discount <= line_total"
        )


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_order_lines_discount_range"), type_="check")
        batch_op.drop_column("discount")

    with op.batch_alter_table("carts", schema=None) as batch_op:
        batch_op.drop_column("voucher_code")

    with op.batch_alter_table("order_discounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_discounts_user_id"))
        batch_op.drop_index("ix_order_discounts_promotion_state")
        batch_op.drop_index(batch_op.f("ix_order_discounts_order_id"))
        batch_op.drop_index(batch_op.f("ix_order_discounts_email"))

    op.drop_table("order_discounts")
    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_codes_promotion_id"))

    op.drop_table("voucher_codes")
    op.drop_table("promotions")

"""A promotion's or code's ``uses`` may exceed its limit: a payment that arrives after its
checkout expired keeps the discount it paid for and is counted, so the code's freed use can
never be handed out a second time

Revision ID: 0028_promotion_uses_overrun
Revises: 0027_promotions
"""

from __future__ import annotations

from alembic import op

revision = "0028_promotion_uses_overrun"
down_revision = "0027_promotions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("promotions", "voucher_codes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_uses_in_range"), type_="check")
            batch.create_check_constraint(op.f(f"ck_{table}_uses_non_negative"), "uses >= 0")


def downgrade() -> None:
    for table in ("promotions", "voucher_codes"):
        op.execute(
            f"UPDATE {table} SET uses = usage_limit WHERE usage_limit IS NOT NULL "  # noqa: S608
            "AND uses > usage_limit"
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_uses_non_negative"), type_="check")
            batch.create_check_constraint(
                op.f(f"ck_{table}_uses_in_range"),
                "uses >= 0 AND (usage_limit IS NULL OR uses <= usage_limit)",
            )

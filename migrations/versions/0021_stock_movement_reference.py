"""stock_movements (reference, variant_id) index

An order's release and sale act on what the ledger says the order holds (the sum of its
reservation lines), not on the variant's stock-tracking flag of the day; this index finds
those lines by the order number.

Revision ID: 0021_stock_movement_reference
Revises: 0020_orders_paid_at_index
"""

from __future__ import annotations

from alembic import op

revision = "0021_stock_movement_reference"
down_revision = "0020_orders_paid_at_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_stock_movements_reference_variant",
        "stock_movements",
        ["reference", "variant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_stock_movements_reference_variant", table_name="stock_movements")

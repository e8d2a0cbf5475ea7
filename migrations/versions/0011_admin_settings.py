"""admin settings: store details, low-stock default

Revision ID: 0011_admin_settings
Revises: 0010_admin_orders
Create Date: 2026-11-25 09:00:00

One row of store settings (id 1), created here so saving never races to insert it. An empty
name means "use SHOP_NAME from the configuration".
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011_admin_settings"
down_revision = "0010_admin_orders"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "store_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("address_lines", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("vat_number", sa.String(length=32), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("low_stock_default", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_store_settings_single_row")),
        sa.CheckConstraint(
            "low_stock_default >= 0 AND low_stock_default <= 100000",
            name=op.f("ck_store_settings_low_stock_default_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_settings")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "id": 1,
                "name": "",
                "legal_name": "",
                "address_lines": [],
                "email": "",
                "phone": "",
                "vat_number": "",
                "timezone": "UTC",
                "low_stock_default": 5,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade():
    op.drop_table("store_settings")

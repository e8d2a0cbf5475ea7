"""Staff-written search titles and descriptions for products and categories

Revision ID: 0035_meta_titles
Revises: 0034_returns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_meta_titles"
down_revision = "0034_returns"
branch_labels = None
depends_on = None

TABLES = ("products", "categories")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch table copy on SQLite, which would drop the search triggers).
    for table in TABLES:
        op.add_column(
            table, sa.Column("meta_title", sa.String(120), nullable=False, server_default="")
        )
        op.add_column(
            table,
            sa.Column("meta_description", sa.String(320), nullable=False, server_default=""),
        )


def downgrade() -> None:
    for table in TABLES:  # SQLite 3.35+ drops columns in place, keeping the triggers
        op.drop_column(table, "meta_description")
        op.drop_column(table, "meta_title")

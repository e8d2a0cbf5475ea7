"""store_settings.filterable_specifications: the specification names shoppers filter by

Revision ID: 0026_filterable_specifications
Revises: 0025_products_brand_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_filterable_specifications"
down_revision = "0025_products_brand_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("store_settings") as batch:
        batch.add_column(
            sa.Column("filterable_specifications", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("store_settings") as batch:
        batch.drop_column("filterable_specifications")

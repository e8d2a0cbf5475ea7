"""products (status, brand) index for the brand filter and facet

Revision ID: 0025_products_brand_index
Revises: 0024_search_synonyms
"""

from __future__ import annotations

from alembic import op

revision = "0025_products_brand_index"
down_revision = "0024_search_synonyms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_products_status_brand", "products", ["status", "brand"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_products_status_brand", table_name="products")

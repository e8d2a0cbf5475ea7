"""admin catalog: products, categories, inventory

Revision ID: 0009_admin_catalog
Revises: 0008_api_tokens
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_admin_catalog"
down_revision = "0008_api_tokens"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

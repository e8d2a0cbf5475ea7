"""admin orders: fulfilment, staff notes, refunds

Revision ID: 0010_admin_orders
Revises: 0009_admin_catalog
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_admin_orders"
down_revision = "0009_admin_catalog"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

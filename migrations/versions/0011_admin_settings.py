"""admin settings: store details, low-stock default

Revision ID: 0011_admin_settings
Revises: 0010_admin_orders
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_admin_settings"
down_revision = "0010_admin_orders"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

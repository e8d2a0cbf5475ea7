"""api v1: cart, checkout, orders, profile

Revision ID: 0014_api_v1
Revises: 0013_admin_imports
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0014_api_v1"
down_revision = "0013_admin_imports"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""admin CSV imports and exports

Revision ID: 0013_admin_imports
Revises: 0012_admin_people
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0013_admin_imports"
down_revision = "0012_admin_people"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

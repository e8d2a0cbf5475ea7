"""admin customers, notifications, audit log, webhook events

Revision ID: 0012_admin_people
Revises: 0011_admin_settings
Create Date: 2026-11-25 09:00:00

Reserved in the chain so that work on separate areas never creates two heads; it may be
empty when the area needed no schema change.
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_admin_people"
down_revision = "0011_admin_settings"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

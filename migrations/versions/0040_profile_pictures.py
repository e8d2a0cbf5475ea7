"""Profile pictures: the key of an account's picture in file storage

Revision ID: 0040_profile_pictures
Revises: 0039_passkeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_profile_pictures"
down_revision = "0039_passkeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch table copy on SQLite).
    op.add_column(
        "users",
        sa.Column("picture_key", sa.String(length=255), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "picture_key")

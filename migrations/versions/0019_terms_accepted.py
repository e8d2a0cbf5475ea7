"""orders.terms_accepted_at: when the shopper accepted the terms for the order (Pay)

Revision ID: 0019_terms_accepted
Revises: 0018_content_pages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_terms_accepted"
down_revision = "0018_content_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("terms_accepted_at")

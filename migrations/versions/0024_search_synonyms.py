"""search_synonyms: groups of search terms staff say mean the same

Revision ID: 0024_search_synonyms
Revises: 0023_search_stats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_search_synonyms"
down_revision = "0023_search_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_synonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.String(length=600), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_synonyms")),
    )


def downgrade() -> None:
    op.drop_table("search_synonyms")

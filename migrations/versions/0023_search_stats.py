"""search_stats: searches and zero-result searches per normalised query and day

Revision ID: 0023_search_stats
Revises: 0022_search_stemming
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_search_stats"
down_revision = "0022_search_stemming"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.Column("zero_results", sa.Integer(), nullable=False),
        sa.CheckConstraint("zero_results <= searches", name=op.f("ck_search_stats_zero_within")),
        sa.PrimaryKeyConstraint("day", "query", name=op.f("pk_search_stats")),
    )


def downgrade() -> None:
    op.drop_table("search_stats")

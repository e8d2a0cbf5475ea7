"""orders.paid_at index where it is missing

The index was added to 0015 after that revision had landed, so a database upgraded past 0015
before then never got it (alembic does not run a revision twice). Created here when missing;
0015 keeps creating it for new databases. Landed revisions are never edited again
(tests/core/test_migrations.py compares them with tests/core/landed_migrations.txt).

Revision ID: 0020_orders_paid_at_index
Revises: 0019_terms_accepted
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_orders_paid_at_index"
down_revision = "0019_terms_accepted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("orders")}
    if "ix_orders_paid_at" not in indexes:
        op.create_index("ix_orders_paid_at", "orders", ["paid_at"], unique=False)


def downgrade() -> None:
    pass  # the index belongs to 0015: downgrading past 0015 drops it

"""search: stemming on SQLite, and the catalog's vocabulary for typo correction

* SQLite: the FTS5 index is rebuilt with the Porter stemmer in front of unicode61, so
  "jackets" finds "jacket" and "wools" finds "wool" (PostgreSQL's generated tsvector has
  always used the 'english' configuration, which stems). The triggers of 0001 keep
  writing to the table by name and stay as they are.
* Both: ``search_words``, the words of product names, brands and category names with how
  many of them use each, which a search that found nothing is corrected against.

Revision ID: 0022_search_stemming
Revises: 0021_stock_movement_reference
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_search_stemming"
down_revision = "0021_stock_movement_reference"
branch_labels = None
depends_on = None


def _fts(tokenize: str) -> list[str]:
    return [
        "DROP TABLE IF EXISTS product_search",
        f"""CREATE VIRTUAL TABLE product_search USING fts5(
            name, brand, description_text,
            content='products', content_rowid='id',
            tokenize='{tokenize}'
        )""",
        "INSERT INTO product_search(product_search) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    op.create_table(
        "search_words",
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_words")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in _fts("porter unicode61 remove_diacritics 2"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _fts("unicode61 remove_diacritics 2"):
            op.execute(statement)
    op.drop_table("search_words")

"""The PostgreSQL search column and the language it stems: which one it was built with, and
rebuilding it for another (``flask shop search-language``).

``products.search_vector`` is a generated column (migration 0001): name (weight A), brand (B)
and description (C) through one text search configuration. Queries use SEARCH_LANGUAGE
(app/catalog/search.py); when that differs from the column's, stems do not meet and searches
miss, so ``flask shop check`` fails until the column is rebuilt. SQLite's FTS5 index stems
English (Porter) whatever SEARCH_LANGUAGE says.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db


def indexed_language() -> str | None:
    """The configuration the column was generated with; None on SQLite."""
    if db.engine.dialect.name != "postgresql":
        return None
    expression = db.session.execute(
        sa.text(
            "SELECT generation_expression FROM information_schema.columns "
            "WHERE table_name = 'products' AND column_name = 'search_vector'"
        )
    ).scalar_one_or_none()
    found = re.search(r"'(\w+)'::regconfig", expression or "")
    return found.group(1) if found else None


def language_exists(language: str) -> bool:
    return (
        db.session.execute(
            sa.text("SELECT 1 FROM pg_ts_config WHERE cfgname = :name"), {"name": language}
        ).first()
        is not None
    )


def rebuild(language: str) -> None:
    """Generate the column again with ``language`` (a table rewrite: seconds per 100,000
    products, during which products are locked; run it in a quiet moment)."""
    if not re.fullmatch(r"[a-z_]{2,40}", language) or not language_exists(language):
        raise ValueError(f"PostgreSQL has no text search configuration {language!r}.")
    config = f"'{language}'::regconfig"
    db.session.execute(sa.text("DROP INDEX IF EXISTS ix_products_search_vector"))
    db.session.execute(sa.text("ALTER TABLE products DROP COLUMN IF EXISTS search_vector"))
    db.session.execute(
        sa.text(
            "ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            f"setweight(to_tsvector({config}, coalesce(name, '')), 'A') || "
            f"setweight(to_tsvector({config}, coalesce(brand, '')), 'B') || "
            f"setweight(to_tsvector({config}, coalesce(description_text, '')), 'C')"
            ") STORED"
        )
    )
    db.session.execute(
        sa.text("CREATE INDEX ix_products_search_vector ON products USING GIN (search_vector)")
    )

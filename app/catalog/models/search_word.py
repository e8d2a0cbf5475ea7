"""The catalog's own words, for correcting a search that found nothing (app/catalog/search.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SearchWord(Base):
    """A word of a published product's name or brand, or of a category's name, and in how
    many of them it occurs. Rebuilt as a whole (``refresh_vocabulary``), never edited."""

    __tablename__ = "search_words"

    word: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    docs: Mapped[int] = mapped_column(default=0)

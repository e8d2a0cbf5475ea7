"""Words staff say mean the same to a shopper's search ("tee" = "t shirt")."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class SearchSynonym(Base):
    """One group of equivalent search terms, normalised and comma-separated ("tee, t shirt").
    A search for any of them finds what any of them finds (app/catalog/synonyms.py)."""

    __tablename__ = "search_synonyms"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[str] = mapped_column(sa.String(600))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def term_list(self) -> list[str]:
        return [t for t in self.terms.split(", ") if t]

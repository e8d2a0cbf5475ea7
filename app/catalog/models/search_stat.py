"""What shoppers search for, per day: the staff dashboard's top and zero-result searches."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SearchStat(Base):
    """One normalised query on one day (UTC): how often it was searched and how often it
    found nothing. Aggregated, never tied to a person (app/catalog/search_stats.py)."""

    __tablename__ = "search_stats"
    __table_args__ = (sa.CheckConstraint("zero_results <= searches", name="zero_within"),)

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    query: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    searches: Mapped[int] = mapped_column(default=0)
    zero_results: Mapped[int] = mapped_column(default=0)

"""A CSV import, from its dry run to the end of its import (app/catalog/import_jobs.py runs
it)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, one_of


class JobStatus(enum.StrEnum):
    VALIDATED = "validated"  # dry run passed; waiting for staff to start it
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_JOBS = (JobStatus.QUEUED, JobStatus.RUNNING)


class ImportJob(TimestampMixin, Base):
    """One uploaded CSV file, from its dry run to the end of its import."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        one_of("status", JobStatus, name="status_valid"),
        sa.CheckConstraint(
            "processed_rows >= 0 AND processed_rows <= total_rows", name="progress_range"
        ),
        sa.Index("ix_import_jobs_status_lease", "status", "lease_expires_at"),
        sa.Index("ix_import_jobs_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=JobStatus.VALIDATED)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    # Up to MAX_BYTES: loaded only when a worker needs it, never for pages or listings.
    content: Mapped[str] = mapped_column(sa.Text, default="", deferred=True)
    content_sha256: Mapped[str] = mapped_column(sa.String(64), default="")  # "" once purged
    actor_id: Mapped[int | None] = mapped_column()
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    claim_token: Mapped[str] = mapped_column(sa.String(32), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_JOBS

    @property
    def can_start(self) -> bool:
        """Validated jobs start; failed ones resume (re-validated, after the rows done)."""
        return bool(self.content_sha256) and self.status in (JobStatus.VALIDATED, JobStatus.FAILED)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.SUCCEEDED else 0
        return self.processed_rows * 100 // self.total_rows

    def __repr__(self) -> str:
        return f"<ImportJob {self.id} {self.status} {self.processed_rows}/{self.total_rows}>"

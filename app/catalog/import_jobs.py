"""CSV import jobs: the durable row behind a background import, and its life cycle.

Several app instances and Huey consumers share only the database, so the uploaded file lives
in the ``ImportJob`` row, never on a local disk. Huey is at-most-once: the row is the source
of truth, a worker claims it with a conditional UPDATE and a lease, and ``sweep()`` hands out
again whatever a lost task or a killed worker left behind.

Why chunks and not one all-or-nothing transaction: a 20,000-row import through the catalog
services takes tens of seconds. In one transaction it would hold SQLite's only write lock for
that long (every checkout waits, then fails after the busy timeout) and, on PostgreSQL, row
locks on every touched variant; its progress would also be invisible to the page. Instead:

* Bad rows never write anything: the whole file is validated against the current catalog at
  the dry run and again when the worker starts, and a single error fails the job before the
  first write.
* Products are applied in chunks of whole products (never a product split across chunks).
  Each chunk commits together with the job's ``processed_rows``, so a killed worker's chunk
  rolls back entirely and the next claim resumes exactly after the last committed chunk.
* The import is an upsert by SKU with absolute values (``stock`` is the stock on hand), so
  even applying a row twice would record no second stock movement.
* A chunk that fails (e.g. an order reserved stock below the file's number since the dry
  run) rolls back; the job is marked failed with the message and how many rows were already
  imported. Staff can fix the cause and resume: it re-validates and continues after them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa

from app.accounts.audit import audit
from app.catalog import csv_apply, csv_import, tasks
from app.catalog.models import ImportJob, JobStatus
from app.db import affected, after_commit, utcnow
from app.exports import safe_cell
from app.extensions import db

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a chunk takes seconds; a lease this old means a lost worker
QUEUED_GRACE = timedelta(seconds=60)  # leave fresh rows to their own enqueue
MAX_ATTEMPTS = 5
UNSTARTED_TTL = timedelta(hours=24)  # dry runs nobody started are deleted after this
CONTENT_TTL = timedelta(days=30)  # finished jobs keep their counts, not the file
CHUNK_ROWS = 500


def create_job(text: str, *, filename: str, plan: Any, actor_id: int | None) -> ImportJob:
    """Store a file whose dry run found no errors, ready to be started."""
    if plan.errors:
        raise ValueError("a file with errors cannot become an import job")
    job = ImportJob(
        status=JobStatus.VALIDATED,
        filename=filename[:255],
        content=text,
        content_sha256=hashlib.sha256(text.encode()).hexdigest(),
        actor_id=actor_id,
        total_rows=plan.total_rows,
        processed_rows=0,
        summary=plan.summary,
        results={},
        errors=[],
        message="",
        attempts=0,
        claim_token="",
    )
    db.session.add(job)
    db.session.flush()
    audit(
        "imports.dry_run",
        actor_id=actor_id,
        target=f"import:{job.id}",
        detail=f"{filename}: {plan.total_rows} rows, no errors",
    )
    return job


def start_job(job_id: int, *, actor_id: int | None = None) -> bool:
    """Queue a validated (or resume a failed) job; False if it was already started.

    A conditional UPDATE, so a double click or two staff members queue it once.
    """
    now = utcnow()
    job = db.session.get(ImportJob, job_id)
    resuming = job is not None and job.status == JobStatus.FAILED
    result = affected(
        sa.update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.status.in_([JobStatus.VALIDATED, JobStatus.FAILED]),
            ImportJob.content_sha256 != "",
        )
        .values(status=JobStatus.QUEUED, message="", errors=[], attempts=0, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result != 1:
        return False
    after_commit(partial(tasks.run_import, job_id))
    assert job is not None  # the UPDATE found it
    audit(
        "imports.resume" if resuming else "imports.start",
        actor_id=actor_id,
        target=f"import:{job_id}",
        detail=f"{safe_cell(job.filename)}: {job.total_rows} rows",
    )
    return True


def claim(job_id: int) -> str | None:
    """Take a queued job, or a running one whose worker's lease ran out. Returns the token."""
    now = utcnow()
    token = secrets.token_hex(16)
    result = affected(
        sa.update(ImportJob)
        .where(
            ImportJob.id == job_id,
            sa.or_(
                ImportJob.status == JobStatus.QUEUED,
                sa.and_(ImportJob.status == JobStatus.RUNNING, ImportJob.lease_expires_at < now),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            claim_token=token,
            lease_expires_at=now + LEASE,
            attempts=ImportJob.attempts + 1,
            started_at=sa.func.coalesce(ImportJob.started_at, now),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return token if result == 1 else None


def _hold(job_id: int, token: str, processed: int) -> bool:
    """Renew the lease at the start of a chunk, only while this worker still owns the job at
    the expected position. On PostgreSQL it also locks the job row until the chunk commits,
    so a rival claim waits and then sees the fresh lease."""
    now = utcnow()
    result = affected(
        sa.update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.status == JobStatus.RUNNING,
            ImportJob.claim_token == token,
            ImportJob.processed_rows == processed,
        )
        .values(lease_expires_at=now + LEASE, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result == 1


def _finish(job_id: int, token: str, status: str, message: str = "", **values: Any) -> bool:
    now = utcnow()
    result = affected(
        sa.update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.status == JobStatus.RUNNING,
            ImportJob.claim_token == token,
        )
        .values(
            status=status,
            message=message[:500],
            claim_token="",
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    return result == 1


@dataclass
class Run:
    """A claimed job on its way: what the runner (app/catalog/tasks.py) carries from one
    chunk's unit of work to the next."""

    job_id: int
    token: str
    actor_id: int | None
    done: int  # rows committed so far (by this run or an earlier attempt)
    results: dict[str, int]
    groups: list[Any]
    context: Any

    def remaining_chunks(self) -> Iterator[list[Any]]:
        """The chunks after the last committed one (chunks are deterministic for a file)."""
        position = 0
        for chunk in csv_apply.chunk_groups(self.groups, CHUNK_ROWS):
            rows = sum(len(g.rows) for g in chunk)
            if position + rows <= self.done:  # committed by an earlier attempt
                position += rows
                continue
            if position != self.done:  # a mismatch means another file
                raise RuntimeError(
                    f"import {self.job_id}: resume position {self.done} is not a chunk edge"
                )
            yield chunk
            position = self.done


def begin_run(job_id: int, token: str) -> Run | None:
    """Validate the claimed job's file against today's catalog. A file that no longer passes
    fails the job before anything is written (None); otherwise the run to apply."""
    job = db.session.get(ImportJob, job_id)
    assert job is not None
    plan = csv_import.validate_text(job.content)
    if plan.errors:
        # The catalog changed since the dry run (e.g. a category was deleted).
        _finish(
            job_id,
            token,
            JobStatus.FAILED,
            _stopped_message(
                job.processed_rows,
                "The file no longer passes validation; nothing more was "
                "imported. Fix the rows below and upload it again.",
            ),
            errors=[e.as_dict() for e in plan.errors[: csv_import.MAX_STORED_ERRORS]],
        )
        audit(
            "imports.failed",
            actor_id=job.actor_id,
            target=f"import:{job_id}",
            detail=f"{len(plan.errors)} validation errors at start",
        )
        return None
    context = csv_apply.ApplyContext.load(actor_id=job.actor_id, note=f"CSV import {job_id}")
    return Run(
        job_id=job_id,
        token=token,
        actor_id=job.actor_id,
        done=job.processed_rows,
        results=dict(job.results or {}),
        groups=plan.groups,
        context=context,
    )


def apply_chunk(run: Run, chunk: list[Any]) -> tuple[int, dict[str, int]] | None:
    """Apply one chunk of whole products and record the job's progress with it (the caller
    commits both together, then advances the run). Returns the rows done and the counts so
    far; None when another worker took the job over."""
    if not _hold(run.job_id, run.token, run.done):
        log.warning("import %s: claim lost to another worker", run.job_id)
        return None
    counts = csv_apply.apply_chunk(chunk, run.context)
    results = dict(run.results)
    for key, value in counts.items():
        results[key] = results.get(key, 0) + value
    done = run.done + sum(len(g.rows) for g in chunk)
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == run.job_id)
        .values(processed_rows=done, results=results)
        .execution_options(synchronize_session=False)
    )
    return done, results


def fail_run(run: Run, chunk: list[Any], exc: Exception) -> None:
    """A chunk failed (and was rolled back): the job stops, saying where and why."""
    first = chunk[0].rows[0].row
    if isinstance(exc, csv_apply.CatalogError):
        reason = f"Rows from {first} on: {exc}"
    else:
        log.error("import %s failed at row %s", run.job_id, first, exc_info=exc)
        reason = f"An unexpected error stopped the import at row {first}."
    _finish(run.job_id, run.token, JobStatus.FAILED, _stopped_message(run.done, reason))
    audit(
        "imports.failed", actor_id=run.actor_id, target=f"import:{run.job_id}", detail=reason[:400]
    )


def finish_run(run: Run) -> None:
    if _finish(
        run.job_id,
        run.token,
        JobStatus.SUCCEEDED,
        processed_rows=run.done,
        results=dict(run.results),
    ):
        audit(
            "imports.finished",
            actor_id=run.actor_id,
            target=f"import:{run.job_id}",
            detail=_describe(run.results),
        )


def _stopped_message(done: int, reason: str) -> str:
    if not done:
        return f"{reason} Nothing was imported."
    return (
        f"{reason} The first {done} rows were imported (whole products only); resuming "
        "re-validates the file and continues after them."
    )


def _describe(results: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(results.items()))


def sweep(limit: int = 100) -> list[int]:
    """Re-enqueue queued jobs whose enqueue was lost and running jobs whose lease ran out
    (their next claim resumes after the last committed chunk); give up on a job whose worker
    died MAX_ATTEMPTS times; drop unstarted dry runs and the files of old finished jobs."""
    now = utcnow()
    dead = affected(
        sa.update(ImportJob)
        .where(
            ImportJob.status == JobStatus.RUNNING,
            ImportJob.lease_expires_at < now,
            ImportJob.attempts >= MAX_ATTEMPTS,
        )
        .values(
            status=JobStatus.FAILED,
            message=f"The import stopped {MAX_ATTEMPTS} times without finishing (worker lost).",
            claim_token="",
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if dead:
        log.error("%s import job(s) failed after %s lost workers", dead, MAX_ATTEMPTS)
    due = list(
        db.session.execute(
            sa.select(ImportJob.id)
            .where(
                sa.or_(
                    sa.and_(
                        ImportJob.status == JobStatus.QUEUED,
                        ImportJob.updated_at <= now - QUEUED_GRACE,
                    ),
                    sa.and_(
                        ImportJob.status == JobStatus.RUNNING, ImportJob.lease_expires_at < now
                    ),
                )
            )
            .order_by(ImportJob.id)
            .limit(limit)
        ).scalars()
    )
    for job_id in due:
        after_commit(partial(tasks.run_import, job_id))
    db.session.execute(
        sa.delete(ImportJob).where(
            ImportJob.status == JobStatus.VALIDATED,
            ImportJob.created_at < now - UNSTARTED_TTL,
        )
    )
    db.session.execute(
        sa.update(ImportJob)
        .where(
            ImportJob.status.in_([JobStatus.SUCCEEDED, JobStatus.FAILED]),
            ImportJob.finished_at < now - CONTENT_TTL,
            ImportJob.content_sha256 != "",
        )
        .values(content="", content_sha256="")
        .execution_options(synchronize_session=False)
    )
    return due

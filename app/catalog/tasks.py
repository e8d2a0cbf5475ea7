"""CSV imports run here, in chunks, recording progress on their ImportJob row.

The row is the source of truth (Huey is at-most-once): the runner claims it with a lease and
resumes after the last committed chunk; ``sweep_imports`` re-enqueues jobs whose enqueue was
lost or whose worker died (lease expired). Each step below is a unit of work of its own; the
steps themselves are in app/catalog/import_jobs.py.
"""

from __future__ import annotations

from huey import crontab

from app.catalog import import_jobs, search, search_stats
from app.catalog.models import JobStatus
from app.db import unit_of_work
from tasks.queue import periodic_job, shop_job


@shop_job(retries=0)
def run_import(job_id: int) -> str | None:
    return run_job(job_id)


def run_job(job_id: int) -> str | None:
    """Claim the job and import it chunk by chunk; returns the final status, or None when
    another worker owns it or it is not runnable (a duplicate or stale enqueue)."""
    with unit_of_work():
        token = import_jobs.claim(job_id)  # visible before any work starts
    if token is None:
        return None
    with unit_of_work():  # ends with the read: what validation loaded is reloaded under lock
        run = import_jobs.begin_run(job_id, token)
    if run is None:
        return JobStatus.FAILED
    for chunk in run.remaining_chunks():
        try:
            with unit_of_work():  # the chunk and the job's progress commit together
                progress = import_jobs.apply_chunk(run, chunk)
        except Exception as exc:  # rolled back: the job stops where it stood
            with unit_of_work():
                import_jobs.fail_run(run, chunk, exc)
            return JobStatus.FAILED
        if progress is None:
            return None
        run.done, run.results = progress
    with unit_of_work():
        import_jobs.finish_run(run)
    refresh_search_words()  # the imported names are corrected against from now on
    return JobStatus.SUCCEEDED


@periodic_job(crontab(minute="*"))
def sweep_imports() -> int:
    with unit_of_work():
        return len(import_jobs.sweep())


@periodic_job(crontab(minute="*/10"))
def refresh_search_words() -> int:
    """Every 10 minutes (and after an import): the words a search that found nothing is
    corrected against follow the catalog's names. One statement set, one short unit."""
    with unit_of_work():
        return search.refresh_vocabulary()


@shop_job(retries=1)
def store_search_stats(batch: list[list]) -> None:
    """A process's tally of searches (app/catalog/search_stats.py), added to the day's rows."""
    with unit_of_work():
        search_stats.store(batch)


@periodic_job(crontab(minute="23", hour="3"))
def forget_old_search_stats() -> int:
    with unit_of_work():
        return search_stats.forget_old()

"""CSV imports run here, in chunks, recording progress on their ImportJob row.

The row is the source of truth (Huey is at-most-once): ``run_import`` claims it with a lease
and resumes after the last committed chunk; ``sweep_imports`` re-enqueues jobs whose enqueue
was lost or whose worker died (lease expired).
"""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey, shop_task


@shop_task(retries=0)
def run_import(job_id: int) -> str | None:
    from app.catalog.import_jobs import run_job

    return run_job(job_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_imports() -> int:
    from app.catalog.import_jobs import sweep
    from app.db import unit_of_work
    from tasks.queue import task_app

    with task_app().app_context(), unit_of_work():
        return len(sweep())

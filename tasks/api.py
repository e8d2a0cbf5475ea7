"""API housekeeping: expired and revoked refresh tokens are deleted."""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey

BATCH = 1000


@huey.periodic_task(crontab(minute="41", hour="*/6"))
def purge_stale_refresh_tokens() -> int:
    """Every 6 hours, in batches of one transaction each, so the table stays small."""
    from app.api.tokens import delete_stale_refresh_tokens
    from app.db import unit_of_work
    from tasks.queue import task_app

    app = task_app()
    deleted = 0
    with app.app_context():
        days = int(app.config["API_TOKEN_RETENTION_DAYS"])
        while True:
            with unit_of_work():
                batch = delete_stale_refresh_tokens(days, batch_size=BATCH)
            deleted += batch
            if batch < BATCH:
                return deleted

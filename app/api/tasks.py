"""API housekeeping: expired and revoked refresh tokens are deleted."""

from __future__ import annotations

from flask import current_app
from huey import crontab

from app.api.tokens import delete_stale_refresh_tokens
from app.db import unit_of_work
from tasks.queue import periodic_job

BATCH = 1000


@periodic_job(crontab(minute="41", hour="*/6"))
def purge_stale_refresh_tokens() -> int:
    """Every 6 hours, in batches of one transaction each, so the table stays small."""
    days = int(current_app.config["API_TOKEN_RETENTION_DAYS"])
    deleted = 0
    while True:
        with unit_of_work():
            batch = delete_stale_refresh_tokens(days, batch_size=BATCH)
        deleted += batch
        if batch < BATCH:
            return deleted

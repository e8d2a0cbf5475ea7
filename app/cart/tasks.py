"""Periodic clean-up of expired carts, in batches."""

from __future__ import annotations

from huey import crontab

from app.cart.services import purge_expired
from app.db import unit_of_work
from tasks.queue import periodic_job

BATCH = 500


@periodic_job(crontab(minute="17"))
def purge_expired_carts() -> int:
    purged = 0
    while True:
        with unit_of_work():
            batch = purge_expired(batch_size=BATCH)
        purged += batch
        if batch < BATCH:
            return purged

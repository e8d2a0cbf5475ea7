"""Periodic clean-up of expired carts, in batches."""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey


@huey.periodic_task(crontab(minute="17"))
def purge_expired_carts() -> int:
    from app.cart.services import purge_expired
    from app.db import unit_of_work
    from tasks.queue import task_app

    purged = 0
    with task_app().app_context():
        while True:
            with unit_of_work():
                batch = purge_expired(batch_size=500)
            purged += batch
            if batch < 500:
                return purged

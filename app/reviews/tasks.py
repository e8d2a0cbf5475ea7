"""The daily round of review requests."""

from __future__ import annotations

from huey import crontab

from app.db import unit_of_work
from app.reviews import requests
from tasks.queue import periodic_job


def ask_due() -> int:
    asked, after = 0, 0
    while True:
        with unit_of_work():
            ids = requests.due_orders(after=after)
            asked += sum(1 for order_id in ids if requests.ask(order_id))
        if len(ids) < requests.BATCH:
            return asked
        after = ids[-1]


@periodic_job(crontab(minute="40", hour="*"))
def ask_for_reviews() -> int:
    return ask_due()

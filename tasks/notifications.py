"""Notification delivery and the sweeper that makes Huey's at-most-once durable."""

from __future__ import annotations

from huey import crontab

from tasks.queue import huey, shop_task


@shop_task(retries=0)
def deliver_notification(notification_id: int) -> str | None:
    from app.notifications.services import deliver

    return deliver(notification_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_notifications() -> int:
    from app.db import unit_of_work
    from app.notifications.services import sweep
    from tasks.queue import task_app

    with task_app().app_context(), unit_of_work():
        return sweep()


@huey.task()
def send_bulk(
    template: str,
    recipients: list[tuple[str, int | None]],
    category: str,
    variables: dict | None = None,
    batch_size: int = 500,
) -> int:
    """A marketing send in batches, each batch committed on its own."""
    from app.db import unit_of_work
    from app.notifications.services import notify_many
    from tasks.queue import task_app

    sent = 0
    with task_app().app_context():
        for start in range(0, len(recipients), batch_size):
            with unit_of_work():
                sent += notify_many(
                    template,
                    recipients[start : start + batch_size],
                    category=category,
                    variables=variables,
                )
    return sent

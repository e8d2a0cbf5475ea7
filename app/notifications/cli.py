"""``flask --app wsgi shop notifications ...``"""

from __future__ import annotations

import click
from flask.cli import AppGroup

notifications_cli = AppGroup("notifications", help="The notification outbox.")


@notifications_cli.command("retry")
@click.argument("notification_id", type=int, required=False)
@click.option("--all-dead", is_flag=True, help="Retry every dead notification.")
def retry_command(notification_id: int | None, all_dead: bool) -> None:
    """Queue dead notifications again (by ID, or all of them)."""
    from app.db import unit_of_work
    from app.notifications.services import list_dead_ids, retry

    if bool(notification_id) == all_dead:
        raise click.UsageError("Give a notification ID or --all-dead (not both).")
    with unit_of_work():
        if all_dead:
            ids = list_dead_ids()
        else:
            assert notification_id is not None  # an ID is required without --all-dead (above)
            ids = [notification_id]
        count = retry(ids)
    click.echo(f"Queued {count} notification(s) again.")


@notifications_cli.command("send-test")
@click.option("--to", "to", required=True, help="Address (email) or phone number (SMS).")
@click.option("--template", required=True, help="Template name, e.g. order-confirmation.")
@click.option("--channel", default="email", type=click.Choice(["email", "sms", "whatsapp"]))
def send_test(to: str, template: str, channel: str) -> None:
    """Send one message with sample data through the configured channel, via the queue."""
    from app.db import unit_of_work
    from app.notifications.models import Category
    from app.notifications.rendering import template_names
    from app.notifications.samples import SAMPLES
    from app.notifications.services import notify

    if template not in template_names():
        raise click.BadParameter(
            f"choose one of: {', '.join(template_names())}", param_hint="--template"
        )
    try:
        with unit_of_work():
            notification = notify(
                template,
                to=to,
                channel=channel,
                category=Category.TRANSACTIONAL,
                variables=dict(SAMPLES.get(template, {})),
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Queued notification {notification.id} ({channel}, {template}) to {to}.")

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from app.extensions import db
from app.notifications.models import Notification


@contextlib.contextmanager
def channel_config(app, **config):
    """Point the channels at test servers for one test; backends are rebuilt from config."""
    saved = {key: app.config.get(key) for key in config}
    app.config.update(config)
    app.extensions.pop("shop_channels", None)
    try:
        yield
    finally:
        app.config.update(saved)
        app.extensions.pop("shop_channels", None)


def fresh(notification_id: int) -> Notification:
    db.session.expire_all()
    return db.session.execute(
        sa.select(Notification).where(Notification.id == notification_id)
    ).scalar_one()


def make_due(notification_id: int) -> None:
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id)
        .values(next_attempt_at=None)
    )

"""``flask --app wsgi shop ...`` commands. Domains add theirs to ``shop_cli``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

shop_cli = AppGroup("shop", help="ShopSphere administration commands.")


@shop_cli.command("check")
def check() -> None:
    """Check configuration and that the database (and Redis) answer."""
    from app.core.redis import redis_ping
    from app.extensions import db

    cfg = current_app.config
    click.echo(f"environment: {cfg['SHOP_ENV']}")
    click.echo(f"database:    {db.engine.url.render_as_string(hide_password=True)}")
    failed = False
    try:
        db.session.execute(sa.text("SELECT 1"))
        click.echo("database:    ok")
    except sa.exc.SQLAlchemyError as exc:
        click.echo(f"database:    FAIL ({type(exc).__name__})")
        failed = True
    if cfg["REDIS_URL"]:
        ok = redis_ping(cfg["REDIS_URL"])
        click.echo(f"redis:       {'ok' if ok else 'FAIL'}")
        failed = failed or not ok
    if failed:
        raise SystemExit(1)

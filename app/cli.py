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


@shop_cli.command("seed")
@click.option("--products", default=120, show_default=True, help="How many demo products.")
@click.option("--if-empty", is_flag=True, help="Only seed when there are no products yet.")
@click.option("--images", default=12, show_default=True, help="Generated pictures (0 = none).")
@click.option("--seed", "random_seed", default=42, show_default=True, help="Random seed.")
def seed(products: int, if_empty: bool, images: int, random_seed: int) -> None:
    """Create a demo catalog (categories, products, variants, stock, pictures)."""
    import time

    from app.catalog.seed import count_products, seed_demo_catalog
    from app.db import unit_of_work

    if if_empty and count_products():
        click.echo("The catalog already has products; nothing to seed.")
        return
    started = time.perf_counter()
    with (
        unit_of_work(),
        click.progressbar(length=products, label="Seeding products", show_pos=True) as bar,
    ):
        result = seed_demo_catalog(products, seed=random_seed, images=images, progress=bar.update)
    click.echo(
        f"Seeded {result.products:,} products with {result.variants:,} variants in "
        f"{result.categories} categories in {time.perf_counter() - started:.1f}s."
    )


def register_domain_commands() -> None:
    from app.accounts.cli import create_admin
    from app.notifications.cli import notifications_cli

    shop_cli.add_command(notifications_cli)
    shop_cli.add_command(create_admin)


register_domain_commands()

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
    from app.db import unit_of_work
    from app.extensions import db

    cfg = current_app.config
    click.echo(f"environment: {cfg['SHOP_ENV']}")
    click.echo(f"database:    {db.engine.url.render_as_string(hide_password=True)}")
    failed = False
    try:
        with unit_of_work():
            db.session.execute(sa.text("SELECT 1"))
        click.echo("database:    ok")
    except sa.exc.SQLAlchemyError as exc:
        click.echo(f"database:    FAIL ({type(exc).__name__})")
        failed = True
    if cfg["REDIS_URL"]:
        ok = redis_ping(cfg["REDIS_URL"])
        click.echo(f"redis:       {'ok' if ok else 'FAIL'}")
        failed = failed or not ok
    if not failed:
        failed = not _search_language_ok(cfg["SEARCH_LANGUAGE"])
    if failed:
        raise SystemExit(1)


def _search_language_ok(configured: str) -> bool:
    from app.catalog.search_index import indexed_language
    from app.db import unit_of_work

    with unit_of_work():
        indexed = indexed_language()
    if indexed is None:
        click.echo("search:      SQLite FTS5, English stemming (Porter)")
        return True
    if indexed != configured:
        click.echo(
            f"search:      FAIL (the index stems {indexed!r}, SEARCH_LANGUAGE is "
            f"{configured!r}: run flask --app wsgi shop search-language --rebuild)"
        )
        return False
    click.echo(f"search:      ok ({indexed})")
    return True


@shop_cli.command("search-language")
@click.option("--rebuild", is_flag=True, help="Rebuild the index for SEARCH_LANGUAGE.")
def search_language(rebuild: bool) -> None:
    """Show (or, with --rebuild, change) the language the PostgreSQL search index stems."""
    from app.catalog import search_index
    from app.catalog.cache import catalog_changed
    from app.db import unit_of_work

    configured = current_app.config["SEARCH_LANGUAGE"]
    with unit_of_work():
        indexed = search_index.indexed_language()
    if indexed is None:
        click.echo(
            "SQLite: the FTS5 index stems English (Porter); SEARCH_LANGUAGE applies to PostgreSQL."
        )
        return
    click.echo(f"index: {indexed}; SEARCH_LANGUAGE: {configured}")
    if not rebuild or indexed == configured:
        return
    try:
        with unit_of_work():
            search_index.rebuild(configured)
            catalog_changed()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Rebuilt the search index for {configured}.")


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

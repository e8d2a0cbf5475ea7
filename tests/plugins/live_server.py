"""A real HTTP server for browser tests: its own app and database, real commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.catalog.models import Category
from app.extensions import db
from tests.databases import temporary_database


@dataclass
class LiveServer:
    app: Flask
    url: str

    def path(self, path: str) -> str:
        return self.url + path


LIVE_PASSWORD = "lanterns drift over the harbour"
# An admin who enrolled two-factor authentication already (the staff journey signs in with it).
LIVE_ADMIN_EMAIL = "admin@example.com"
LIVE_ADMIN_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def seed_live_catalog() -> None:
    """Known products for the journeys, plus generated ones so listings have several pages."""
    from app.catalog.seed import seed_demo_catalog
    from app.catalog.services import VariantInput, create_category, create_product
    from app.db import unit_of_work

    with unit_of_work():
        seed_demo_catalog(40, images=0)
        clothing = db.session.execute(
            sa.select(Category).where(Category.slug_path == "clothing/women/knitwear")
        ).scalar_one_or_none() or create_category("Knitwear", None)
        create_product(
            "Merino Wool Jumper",
            category=clothing,
            status="published",
            brand="Northwind",
            description_html="<p>Soft <strong>merino</strong> wool, knitted in Scotland.</p>",
            variants=[
                VariantInput(sku="MWJ-S", price=8900, options={"size": "S"}, stock=0),
                VariantInput(sku="MWJ-M", price=8900, options={"size": "M"}, stock=2),
                VariantInput(sku="MWJ-L", price=9400, options={"size": "L"}, stock=25),
            ],
        )
        create_product(
            "Waxed Field Jacket",
            category=clothing,
            status="published",
            brand="Northwind",
            description_html="<p>Waxed cotton, two colours.</p>",
            variants=[
                VariantInput(
                    sku="WFJ-OS", price=12900, options={"size": "S", "colour": "Olive"}, stock=3
                ),
                VariantInput(
                    sku="WFJ-OM", price=12900, options={"size": "M", "colour": "Olive"}, stock=0
                ),
                VariantInput(
                    sku="WFJ-OL", price=13400, options={"size": "L", "colour": "Olive"}, stock=5
                ),
                VariantInput(
                    sku="WFJ-NM", price=13900, options={"size": "M", "colour": "Navy"}, stock=4
                ),
                VariantInput(
                    sku="WFJ-NL", price=13900, options={"size": "L", "colour": "Navy"}, stock=2
                ),
            ],
        )
        create_product(
            "Speckled Stoneware Mug",
            category=clothing,
            status="published",
            brand="Hearth",
            variants=[VariantInput(sku="SSM-1", price=1500, options={}, stock=30)],
        )
        from app.accounts.services import register_user

        register_user("Sam Shopper", "shopper@example.com", LIVE_PASSWORD, verified=True)
        register_user(
            "Stella Staff", "staff@example.com", LIVE_PASSWORD, verified=True, role="staff"
        )
        from app.db import utcnow

        admin = register_user(
            "Ada Admin", LIVE_ADMIN_EMAIL, LIVE_PASSWORD, verified=True, role="admin"
        )
        admin.totp_secret = LIVE_ADMIN_TOTP
        admin.totp_enabled_at = utcnow()


def _static_read_at_once(app):
    """Static files are read whole and their file closed before the dev server writes them:
    when the browser drops the connection mid-response (a favicon, a stylesheet it already
    has), werkzeug's threaded dev server can leave the file object to the garbage collector,
    whose ResourceWarning then fails whichever test happens to be running (warnings are
    errors here). Production runs under gunicorn, not this server."""

    def wsgi(environ, start_response):
        body = app(environ, start_response)
        if not environ.get("PATH_INFO", "").startswith("/static/"):
            return body
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


@pytest.fixture(scope="session")
def live_server(tmp_root: Path) -> Iterator[LiveServer]:
    from tests.conftest import app_config

    with temporary_database(tmp_root, "live") as url:
        app = create_app(
            app_config(url, SHOP_INSTANCE_DIR=str(tmp_root / "live"), RATELIMIT_ENABLED=False)
        )
        with app.app_context():
            flask_migrate.upgrade()
            seed_live_catalog()
        server = make_server("127.0.0.1", 0, _static_read_at_once(app), threaded=True)
        # Links in emails point at this server.
        app.config["SHOP_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with app.app_context():
                db.engine.dispose()

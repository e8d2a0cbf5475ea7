"""A real HTTP server for browser tests: its own app and database, real commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.databases import temporary_database


@dataclass
class LiveServer:
    app: Flask
    url: str

    def path(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="session")
def live_server(tmp_root: Path) -> Iterator[LiveServer]:
    from tests.conftest import app_config

    with temporary_database(tmp_root, "live") as url:
        app = create_app(
            app_config(url, SHOP_INSTANCE_DIR=str(tmp_root / "live"), RATELIMIT_ENABLED=False)
        )
        with app.app_context():
            flask_migrate.upgrade()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with app.app_context():
                db.engine.dispose()

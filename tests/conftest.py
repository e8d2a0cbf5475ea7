"""Fixtures: one migrated database per run, each test inside a rolled-back transaction.

The same suite runs on the embedded default (SQLite, memory limiter, immediate Huey)
and, with ``DATABASE_URL``/``REDIS_URL`` set, on PostgreSQL and Redis.
"""

from __future__ import annotations

import contextvars
import os
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="shopsphere-tests-"))
# Must be set before app or tasks modules read the environment.
os.environ["SHOP_ENV"] = "testing"
os.environ["SHOP_INSTANCE_DIR"] = str(_TMP / "instance")

import flask_migrate  # noqa: E402
import pytest  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from app import create_app  # noqa: E402
from app.catalog.cache import breaker as cache_breaker  # noqa: E402
from app.catalog.page_cache import clear_local as clear_local_pages  # noqa: E402
from app.extensions import cache, limiter  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from tests.databases import temporary_database  # noqa: E402

pytest_plugins = ["tests.plugins.live_server", "tests.plugins.browser"]


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production.

    Flask reuses an already pushed app context of the same app for a request; the ``db``
    fixture pushes one for the test body, which would otherwise share ``g`` and the
    SQLAlchemy session between the test and every request it makes.

    Streamed bodies are read to the end inside the request's own context, as a server sends
    them, and closed there (which ends the request), so they see the request's context;
    ``was_streamed`` tells whether the app streamed the body.
    """

    def open(self, *args, **kwargs):
        context = contextvars.Context()
        response = context.run(super().open, *args, **kwargs)
        response.was_streamed = response.is_streamed
        if response.is_streamed:
            context.run(response.get_data)
            context.run(response.close)
        return response


def app_config(database_url: str, **overrides: object) -> dict[str, object]:
    cfg: dict[str, object] = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SERVER_NAME": None,
        # Keys of this run only, so a shared Redis is never clobbered between runs.
        "CACHE_KEY_PREFIX": f"shoptest-{os.getpid()}:",
    }
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        cfg["REDIS_URL"] = redis_url
        cfg["RATELIMIT_STORAGE_URI"] = redis_url
        # limiter.reset() deletes the storage's prefix only: another run's reset must not
        # empty this run's counters.
        cfg["RATELIMIT_STORAGE_OPTIONS"] = {"key_prefix": f"shoptest-{os.getpid()}"}
    cfg.update(overrides)
    return cfg


# `make test` runs the suite on two pytest-xdist workers, each taking whole files (--dist
# loadfile: a file's tests share its fixtures and run in their written order). Files are
# handed out in collection order (--no-loadscope-reorder: xdist would otherwise hand out the
# files with the most tests first); the longest go first, so that neither worker is left
# running one of them alone at the end.
LONGEST_FILES = (
    "tests/core/test_hostile_input.py",
    "tests/e2e/test_layout.py",
    "tests/api/test_schemathesis.py",
    "tests/e2e/test_accessibility.py",
    "tests/core/test_production_recipe.py",
    "tests/core/test_lint.py",
    "tests/core/test_import_order.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return  # one process: the written order
    rank = {path: position for position, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    return _TMP


@pytest.fixture(scope="session")
def database_url(tmp_root: Path):
    with temporary_database(tmp_root, "suite") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str):
    from tests import routes

    app = create_app(app_config(database_url))
    app.test_client_class = IsolatedClient
    app.register_blueprint(routes.bp)
    app.register_blueprint(routes.api_bp)
    with app.app_context():
        limiter.reset()
        flask_migrate.upgrade()
        routes.probe.create(_db.engine)
        _db.engine.dispose()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_search_tally():
    """Search statistics are tallied per process between flushes; a test that holds its tally
    (a production-like flush interval) must not hand it to the next test."""
    from app.catalog import search_stats

    search_stats._pending.clear()
    yield
    search_stats._pending.clear()


@pytest.fixture(autouse=True)
def _reset_rate_limits(app):
    """Flask-Limiter keeps one storage per extension instance (one app per process in
    production); tests that build extra apps re-point it, so point it back and clear it."""
    yield
    limiter.init_app(app)
    limiter._storage_dead = False
    cache_breaker.reset()
    with app.app_context():
        limiter.reset()


@pytest.fixture
def make_app(database_url):
    """Build extra apps with config overrides; their connection pools are closed afterwards."""
    from tests import routes

    made = []

    def factory(database: str | None = None, **overrides: object):
        extra = create_app(app_config(database or database_url, **overrides))
        extra.test_client_class = IsolatedClient
        extra.register_blueprint(routes.bp)
        made.append(extra)
        return extra

    yield factory
    for extra in made:
        with extra.app_context():
            _db.engine.dispose()


@pytest.fixture
def db(app):
    """The session bound to a connection whose outer transaction is rolled back."""
    with app.app_context():
        cache.clear()
        clear_local_pages()
        connection = _db.engine.connect()
        outer = connection.begin()
        _db.session.remove()
        _db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session.configure(bind=None)
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app, db):
    """Counts SQL statements (savepoint bookkeeping excluded) sent while the test runs."""
    import sqlalchemy as sa

    counter = QueryCounter()
    with app.app_context():
        engine = _db.engine
    sa.event.listen(engine, "before_cursor_execute", counter)
    yield counter
    sa.event.remove(engine, "before_cursor_execute", counter)

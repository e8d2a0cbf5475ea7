"""Models and migrations agree, and migrations run both ways, on SQLite and PostgreSQL."""

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db
from tests.databases import temporary_database

IGNORED_TABLES = {"uow_probe", "alembic_version"}


def _include(obj, name, type_, reflected, compare_to):
    from migrations.env_filters import include_object

    if type_ == "table" and name in IGNORED_TABLES:
        return False
    return include_object(obj, name, type_, reflected, compare_to)


def test_autogenerate_finds_no_differences(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _include}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(tmp_root, make_app):
    with temporary_database(tmp_root, "migrations") as url:
        app = make_app(url)
        with app.app_context():
            flask_migrate.upgrade()
            head_tables = set(sa.inspect(db.engine).get_table_names())
            flask_migrate.downgrade(revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            flask_migrate.upgrade()
            assert set(sa.inspect(db.engine).get_table_names()) == head_tables
            db.engine.dispose()

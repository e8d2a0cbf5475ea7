"""Models and migrations agree, migrations run both ways, on SQLite and PostgreSQL, and a
migration that has landed is never edited again."""

import hashlib
from pathlib import Path

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.cart.models import Cart
from app.db import utcnow
from app.extensions import db
from tests.accounts.helpers import make_user
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


VERSIONS = Path(__file__).parents[2] / "migrations" / "versions"
LANDED = Path(__file__).parent / "landed_migrations.txt"


def test_landed_migrations_are_never_edited():
    """A database already past a revision never runs it again: an edit reaches nobody who
    upgraded before it. Change the schema in a new revision; a new revision is added to
    landed_migrations.txt (sha256sum *.py) in the commit that lands it."""
    landed = dict(reversed(line.split()) for line in LANDED.read_text().splitlines() if line)
    files = {path.name: path for path in VERSIONS.glob("*.py")}
    assert sorted(files) == sorted(landed), "list a new revision in landed_migrations.txt"
    edited = [
        name
        for name, path in files.items()
        if hashlib.sha256(path.read_bytes()).hexdigest() != landed[name]
    ]
    assert edited == [], f"landed migrations edited: {edited}"


def test_a_database_upgraded_before_the_paid_at_index_gets_it(tmp_root, make_app):
    with temporary_database(tmp_root, "paid-at") as url:
        app = make_app(url)
        with app.app_context():
            flask_migrate.upgrade(revision="0019_terms_accepted")
            with db.engine.begin() as conn:  # 0015 as it first landed, without the index
                conn.execute(sa.text("DROP INDEX ix_orders_paid_at"))
            flask_migrate.upgrade()
            indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("orders")}
            assert "ix_orders_paid_at" in indexes
            flask_migrate.downgrade(revision="0019_terms_accepted")
            flask_migrate.upgrade()  # and once more: created only when missing
            db.engine.dispose()


# Reserved in the chain by the first wave and empty; they landed, so a database may be stamped
# at either and they stay (deleting one would make `flask db upgrade` fail to find it).
EMPTY_BUT_LANDED = {"0009_admin_catalog.py", "0012_admin_people.py"}


def test_no_new_revision_is_an_empty_placeholder():
    """A revision changes the schema (or its data); reserving numbers in advance is not done
    again — a new model change gets the next number when it is written."""
    import ast

    empty = set()
    for path in VERSIONS.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
                docstring_or_pass = [
                    statement
                    for statement in node.body
                    if isinstance(statement, ast.Pass)
                    or (
                        isinstance(statement, ast.Expr)
                        and isinstance(statement.value, ast.Constant)
                    )
                ]
                if len(docstring_or_pass) == len(node.body):
                    empty.add(path.name)
    assert empty == EMPTY_BUT_LANDED


def test_a_cart_merge_recorded_by_cart_is_kept_by_its_account(tmp_root, make_app):
    """0041 kept a merge by the account's cart; 0042 keeps it by the account: a merge whose
    cart exists names that cart's account, one whose cart is gone cannot be placed."""
    with temporary_database(tmp_root, "cart-merges") as url:
        app = make_app(url)
        with app.app_context():
            flask_migrate.upgrade(revision="0041_cart_merges")
            # Users and carts are as the models say at 0041 (neither changed since).
            user = make_user("grace@example.com")
            cart = Cart(user_id=user.id, expires_at=utcnow())
            db.session.add(cart)
            db.session.flush()
            user_id, cart_id = user.id, cart.id
            db.session.execute(
                sa.text(
                    "INSERT INTO cart_merges (cart_id, token_hash, merged_at)"
                    " VALUES (:cart, 'abc', CURRENT_TIMESTAMP)"
                ),
                {"cart": cart_id},
            )
            db.session.commit()
            db.session.remove()
            flask_migrate.upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT user_id, token_hash FROM cart_merges")).all()
            assert [tuple(r) for r in rows] == [(user_id, "abc")]
            flask_migrate.downgrade(revision="0041_cart_merges")
            with db.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT cart_id, token_hash FROM cart_merges")).all()
            assert [tuple(r) for r in rows] == [(cart_id, "abc")]
            db.engine.dispose()

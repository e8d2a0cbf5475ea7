"""One commit per request at the edge; side effects only after a successful commit."""

import contextlib

import pytest
import sqlalchemy as sa

from tests import routes


@pytest.fixture(autouse=True)
def _clear_side_effects():
    routes.side_effects.clear()
    yield
    routes.side_effects.clear()


def count(client, label):
    return int(client.get(f"/__test/count/{label}").get_data(as_text=True))


def test_successful_request_commits_and_then_runs_side_effects(client):
    assert client.post("/__test/write/alpha").status_code == 200
    assert count(client, "alpha") == 1
    assert routes.side_effects == ["alpha"]


@pytest.mark.parametrize(("outcome", "status"), [("raise", 500), ("abort", 409), ("status", 422)])
def test_failed_request_rolls_back_and_drops_side_effects(client, outcome, status):
    assert client.post(f"/__test/write/beta?outcome={outcome}").status_code == status
    assert count(client, "beta") == 0
    assert routes.side_effects == []


def test_unit_of_work_context_manager(app, db):
    from app.db import after_commit, unit_of_work

    with app.app_context():
        with pytest.raises(ValueError), unit_of_work() as session:
            session.execute(routes.probe.insert().values(label="gamma"))
            after_commit(lambda: routes.side_effects.append("gamma"))
            raise ValueError("stop")
        with unit_of_work() as session:
            session.execute(routes.probe.insert().values(label="delta"))
            after_commit(lambda: routes.side_effects.append("delta"))
        rows = db.session.execute(routes.probe.select()).all()
    assert [r.label for r in rows] == ["delta"]
    assert routes.side_effects == ["delta"]


def test_failing_side_effect_does_not_undo_the_commit(app, db, caplog):
    from app.db import after_commit, unit_of_work

    def explode():
        raise RuntimeError("smtp down")

    with app.app_context():
        with unit_of_work() as session:
            session.execute(routes.probe.insert().values(label="epsilon"))
            after_commit(explode)
            after_commit(lambda: routes.side_effects.append("after"))
        rows = db.session.execute(routes.probe.select()).all()
    assert [r.label for r in rows] == ["epsilon"]
    assert routes.side_effects == ["after"]
    assert "after-commit callback" in caplog.text


def test_a_transaction_knows_whether_it_has_written(app):
    """app.db.wrote_in_transaction: what decides whether undoing a block needs a savepoint
    (what was written before it stands) or can roll the whole transaction back."""
    from app.catalog.models import Category
    from app.db import rollback_unit_of_work, wrote_in_transaction
    from app.extensions import db

    with app.app_context():
        rollback_unit_of_work()
        db.session.execute(sa.select(Category.id).with_for_update()).all()
        assert wrote_in_transaction() is False  # reads, locking ones included
        db.session.execute(routes.probe.insert().values(label="wrote"))
        assert wrote_in_transaction() is True
        rollback_unit_of_work()
        assert wrote_in_transaction() is False  # a new transaction starts clean
        db.session.add(Category(name="Wrote", slug="wrote", slug_path="wrote", id_path="x"))
        db.session.flush()
        assert wrote_in_transaction() is True
        with savepoint_rolled_back():
            pass
        assert wrote_in_transaction() is True  # a savepoint's end is not the transaction's
        rollback_unit_of_work()
        assert wrote_in_transaction() is False


def test_undoing_a_unit_of_work_that_changed_nothing_keeps_the_prepared_statements(app):
    """rollback_unit_of_work on PostgreSQL: a transaction the server never gave an id (it
    neither wrote nor locked a row) is ended with a COMMIT, because psycopg forgets every
    statement it prepared on the connection at each ROLLBACK, and the statements are then
    planned again for their next runs (an error page that read the cart made the next
    checkout page cost the database four times the CPU). What wrote or locked anything is
    rolled back and gone, and either way the unit of work's after-commit effects are
    dropped and its undo steps run. SQLite always rolls back."""
    from app.catalog.models import Category
    from app.db import after_commit, after_rollback, rollback_unit_of_work
    from app.extensions import db
    from tests.databases import is_postgres

    ends: list[str] = []
    effects: list[str] = []
    with app.app_context():
        engine = db.engine

        def committed(_conn: object) -> None:
            ends.append("commit")

        def rolled_back(_conn: object) -> None:
            ends.append("rollback")

        def prepared() -> tuple[int, int]:
            """This connection's backend and the statements prepared on it (PostgreSQL)."""
            if not is_postgres():
                return 0, 0
            asked = "SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements"
            backend, count = db.session.execute(sa.text(asked)).one()
            return int(backend), int(count)

        def undone(kind: str, work: object) -> None:
            ends.clear()
            assert callable(work)
            work()
            after_commit(lambda: effects.append(f"{kind}: committed"))
            after_rollback(lambda: effects.append(f"{kind}: undone"))
            rollback_unit_of_work()

        rollback_unit_of_work()
        engine.dispose()  # one connection from here on (the pool hands out its oldest first)
        for _ in range(8):  # psycopg prepares a statement at its sixth run on a connection
            db.session.execute(sa.select(Category.id).where(Category.id == 1)).all()
            db.session.commit()
        before = prepared()
        db.session.commit()
        sa.event.listen(engine, "commit", committed)
        sa.event.listen(engine, "rollback", rolled_back)
        try:
            undone("read", lambda: db.session.execute(sa.select(Category.id)).all())
            assert ends == (["commit"] if is_postgres() else ["rollback"])
            after = prepared()
            db.session.commit()

            db.session.execute(routes.probe.insert().values(label="to lock"))
            db.session.commit()
            locked = routes.probe.select().where(routes.probe.c.label == "to lock")
            undone("locked", lambda: db.session.execute(locked.with_for_update()).one())
            assert ends == ["rollback"]

            written = routes.probe.insert().values(label="undone")
            undone("written", lambda: db.session.execute(written))
            assert ends == ["rollback"]

            pending = Category(name="Pending", slug="pending-undo", slug_path="p", id_path="p")

            def read_then_add() -> None:  # a change only the session holds: never flushed
                db.session.execute(sa.select(Category.id)).all()
                db.session.add(pending)

            undone("pending", read_then_add)
            assert "commit" not in ends  # a change only the session holds is never flushed
        finally:
            sa.event.remove(engine, "commit", committed)
            sa.event.remove(engine, "rollback", rolled_back)
            rollback_unit_of_work()
            db.session.execute(routes.probe.delete().where(routes.probe.c.label == "to lock"))
            db.session.commit()  # the suite's other tests count the probe's rows
        labels = {row.label for row in db.session.execute(routes.probe.select())}
        slugs = set(db.session.execute(sa.select(Category.slug)).scalars())
        rollback_unit_of_work()
    assert effects == [f"{kind}: undone" for kind in ("read", "locked", "written", "pending")]
    assert "undone" not in labels
    assert "pending-undo" not in slugs
    if is_postgres():
        assert before[0] == after[0], "the same connection, or the test proves nothing"
        assert before[1] >= 1
        assert after[1] == before[1]  # still prepared


def test_an_error_page_that_read_the_database_leaves_the_prepared_statements(app):
    """A 404 for a product reads the catalog, and its page reads the visitor's cart after
    the request's unit of work was undone; the transaction that leaves open is ended at the
    end of the request like a failed unit of work (on PostgreSQL by a COMMIT, as it wrote
    nothing), not by closing the session, whose ROLLBACK made psycopg forget what it had
    prepared."""
    from app.extensions import db
    from tests.databases import is_postgres

    ends: list[str] = []

    def committed(_conn: object) -> None:
        ends.append("commit")

    def rolled_back(_conn: object) -> None:
        ends.append("rollback")

    with app.app_context():
        engine = db.engine
    client = app.test_client()  # not the suite's client: its test's transaction hides ends
    sa.event.listen(engine, "commit", committed)
    sa.event.listen(engine, "rollback", rolled_back)
    try:
        assert client.get("/products/no-such-product").status_code == 404
    finally:
        sa.event.remove(engine, "commit", committed)
        sa.event.remove(engine, "rollback", rolled_back)
    assert ends, "the page read nothing: the test proves nothing"
    assert ("rollback" not in ends) if is_postgres() else ("commit" not in ends)


@contextlib.contextmanager
def savepoint_rolled_back():
    from app.db import savepoint

    with contextlib.suppress(RuntimeError), savepoint():
        yield
        raise RuntimeError("undo the savepoint")


@pytest.fixture
def committed_probe_rows_removed(app):
    """Tests that commit probe rows outside the ``db`` fixture's transaction remove them after,
    so the suite's other tests (tests/core/test_tasks.py counts them) start without them."""
    yield
    from app.db import commit_unit_of_work, rollback_unit_of_work
    from app.extensions import db

    with app.app_context():
        rollback_unit_of_work()
        db.session.execute(routes.probe.delete().where(routes.probe.c.label.in_(COMMITTED)))
        commit_unit_of_work()


COMMITTED = ("kept-file", "outer", "lost")


def test_after_rollback_undoes_what_was_done_outside_the_database_only_when_it_is_undone(
    app, committed_probe_rows_removed
):
    """app.db.after_rollback: files stored for a row that never comes are deleted again —
    on a rollback, when the last flush fails, for a rolled-back savepoint its own; never
    after a commit, nor when the COMMIT itself fails (it may have been stored)."""
    from app.db import (
        after_rollback,
        commit_unit_of_work,
        rollback_unit_of_work,
        savepoint,
    )
    from app.extensions import db

    undone: list[str] = []
    with app.app_context():
        rollback_unit_of_work()
        after_rollback(lambda: undone.append("rolled back"))
        rollback_unit_of_work()
        assert undone == ["rolled back"]

        db.session.execute(routes.probe.insert().values(label="kept-file"))
        after_rollback(lambda: undone.append("committed"))
        commit_unit_of_work()
        rollback_unit_of_work()  # the next unit of work starts without it
        assert undone == ["rolled back"]

        db.session.execute(routes.probe.insert().values(label="outer"))
        after_rollback(lambda: undone.append("outer"))
        with contextlib.suppress(RuntimeError), savepoint():
            after_rollback(lambda: undone.append("inner"))
            raise RuntimeError("undo the savepoint")
        assert undone == ["rolled back", "inner"]  # the outer work still stands
        commit_unit_of_work()
        assert undone == ["rolled back", "inner"]

        def commit_failing_at(step: str) -> None:
            """commit_unit_of_work() with the session's ``step`` (flush, commit) failing."""
            session = db.session()

            def fail(*args: object, **kwargs: object) -> None:
                raise sa.exc.OperationalError(step.upper(), {}, Exception("connection lost"))

            setattr(session, step, fail)
            try:
                with pytest.raises(sa.exc.OperationalError):
                    commit_unit_of_work()
            finally:
                delattr(session, step)
                rollback_unit_of_work()

        after_rollback(lambda: undone.append("flush failed"))
        commit_failing_at("flush")  # the unit of work's last writes: surely not stored
        assert undone == ["rolled back", "inner", "flush failed"]

        after_rollback(lambda: undone.append("commit failed"))
        db.session.execute(routes.probe.insert().values(label="lost"))
        commit_failing_at("commit")  # may have been stored all the same: kept
        assert undone == ["rolled back", "inner", "flush failed"]


def test_a_read_phase_refuses_rows_written_by_a_plain_statement(app):
    """Rows written by a statement rather than a flush (a plain INSERT: ledger lines, an
    order's rows at Pay) leave nothing in ``session.new``: the read phase's guard sees them
    too, so a read phase cannot write one unnoticed."""
    from app.db import read_phase, rollback_unit_of_work
    from app.extensions import db

    with app.app_context():
        rollback_unit_of_work()
        refused = pytest.raises(RuntimeError, match="read phase 'probe' changed something")
        with refused, read_phase("probe"):
            db.session.execute(routes.probe.insert().values(label="read-phase"))
        labels = {row.label for row in db.session.execute(routes.probe.select())}
        assert "read-phase" not in labels  # rolled back with the phase
        rollback_unit_of_work()

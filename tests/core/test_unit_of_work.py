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


@contextlib.contextmanager
def savepoint_rolled_back():
    from app.db import savepoint

    with contextlib.suppress(RuntimeError), savepoint():
        yield
        raise RuntimeError("undo the savepoint")


def test_after_rollback_undoes_what_was_done_outside_the_database_only_when_it_is_undone(app):
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

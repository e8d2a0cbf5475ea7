"""Database base classes and the unit of work.

Services flush; entry points (views, tasks, CLI commands) commit once through
:func:`commit_unit_of_work` or :func:`unit_of_work`. Side effects that must only
happen when the data is really stored (emails, task enqueues, payment calls) are
registered with :func:`after_commit` and run after the commit succeeds.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

log = logging.getLogger(__name__)

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_AFTER_COMMIT = "shop_after_commit"
_AFTER_ROLLBACK = "shop_after_rollback"
_KEEP = "shop_keep_on_refusal"
_WROTE = "shop_wrote_in_transaction"
_CONNECTED = "shop_transaction_connected"
_ENGINE = "shop_engine"
# Set while a block that will write runs: its transactions begin as writers on SQLite.
_WRITER: contextvars.ContextVar[bool] = contextvars.ContextVar("shop_writer", default=False)
# Set while a block that only reads runs inside a writing entry point (see read_phase).
_READER: contextvars.ContextVar[bool] = contextvars.ContextVar("shop_reader", default=False)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    registry = sa.orm.registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, nullable=False)


class ShopSession(FlaskSession):
    """Flask-SQLAlchemy's session, but an explicitly configured ``bind`` wins.

    Tests bind the session to one connection holding an outer transaction, so that
    every test is rolled back; Flask-SQLAlchemy's own ``get_bind`` ignores ``self.bind``.
    """

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        if bind is not None:
            return bind
        if self.bind is not None:
            return self.bind
        # With one engine (no SQLALCHEMY_BINDS) every statement goes to it: found once per
        # session, not looked up through the app context for each of a request's statements.
        engine = self.info.get(_ENGINE)
        if engine is None:
            engine = super().get_bind(mapper=mapper, clause=clause, **kw)
            if len(self._db.engines) == 1:
                self.info[_ENGINE] = engine
        return engine


@sa.event.listens_for(ShopSession, "after_flush")
def _flushed(session: Any, _context: Any) -> None:
    session.info[_WROTE] = True


@sa.event.listens_for(ShopSession, "do_orm_execute")
def _executed(state: Any) -> None:
    if not state.is_select:  # INSERT, UPDATE, DELETE, and any text() (counted as writes)
        state.session.info[_WROTE] = True


@sa.event.listens_for(ShopSession, "after_begin")
def _connected(session: Any, _transaction: Any, _connection: Any) -> None:
    session.info[_CONNECTED] = True  # the transaction holds a connection now


@sa.event.listens_for(ShopSession, "after_transaction_end")
def _ended(session: Any, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
        session.info.pop(_CONNECTED, None)


def wrote_in_transaction() -> bool:
    """Whether the session's current transaction has written anything yet (a flush, or a
    statement other than a SELECT run through the session)."""
    return bool(_session().info.get(_WROTE))


def _session() -> Any:
    from app.extensions import db

    return db.session


def after_commit(fn: Callable[[], Any], *, key: str | None = None) -> None:
    """Run ``fn`` once the current unit of work has committed; dropped on rollback.

    Callbacks with the same ``key`` run once per unit of work (e.g. one cache bump).
    """
    callbacks: dict[Any, Callable[[], Any]] = _session().info.setdefault(_AFTER_COMMIT, {})
    callbacks.setdefault(key if key is not None else object(), fn)


def after_rollback(fn: Callable[[], Any]) -> None:
    """Run ``fn`` if the current unit of work is rolled back instead of committing (also
    when its final flush fails); dropped once it commits. For what was done outside the
    database for it (files stored before the row that points at them): undone when the row
    never comes. Inside a :func:`savepoint`, also when that savepoint is rolled back. Not
    when the COMMIT itself fails: it may have been stored all the same."""
    _session().info.setdefault(_AFTER_ROLLBACK, []).append(fn)


def _take_undo(session: Any) -> list[Callable[[], Any]]:
    """The unit of work's after-rollback callbacks, taken out (and the list emptied, so a
    savepoint still holding it cannot run them again)."""
    undo: list[Callable[[], Any]] = session.info.pop(_AFTER_ROLLBACK, [])
    taken = list(undo)
    undo.clear()
    return taken


def _run_undo(callbacks: list[Callable[[], Any]]) -> None:
    for fn in reversed(callbacks):
        try:
            fn()
        except Exception:
            log.exception("after-rollback callback %r failed", fn)


class _Batch:
    """An after-commit callback that gets everything collected for it during the unit."""

    def __init__(self, fn: Callable[[list[Any]], Any]) -> None:
        self.fn = fn
        self.items: list[Any] = []

    def __call__(self) -> Any:
        return self.fn(list(self.items))


def after_commit_batch(key: str, item: Any, fn: Callable[[list[Any]], Any]) -> None:
    """Collect ``item``; once the unit of work commits, ``fn`` runs once with all the items
    collected under ``key`` (dropped with them on rollback). One alert for a whole import,
    say, instead of one per row."""
    callbacks: dict[Any, Any] = _session().info.setdefault(_AFTER_COMMIT, {})
    batch = callbacks.get(key)
    if not isinstance(batch, _Batch):
        batch = callbacks[key] = _Batch(fn)
    batch.items.append(item)


@contextlib.contextmanager
def savepoint() -> Iterator[None]:
    """A SAVEPOINT whose rollback also forgets the after-commit effects registered inside it
    (a low-stock alert for a reservation that was undone must not be sent when the rest of
    the unit of work commits). Re-raises what ended it."""
    session = _session()
    callbacks: dict[Any, Any] = session.info.setdefault(_AFTER_COMMIT, {})
    before = {
        key: len(fn.items) if isinstance(fn, _Batch) else None for key, fn in callbacks.items()
    }
    undo: list[Callable[[], Any]] = session.info.setdefault(_AFTER_ROLLBACK, [])
    undo_before = len(undo)
    nested = session.begin_nested()
    try:
        yield
    except BaseException:
        nested.rollback()
        for key in list(callbacks):
            if key not in before:
                del callbacks[key]
            elif before[key] is not None:
                del callbacks[key].items[before[key] :]
        inside = undo[undo_before:]
        del undo[undo_before:]
        _run_undo(inside)
        raise
    nested.commit()


@contextlib.contextmanager
def undone_on_error() -> Iterator[bool]:
    """What the block writes is undone when it raises: by a :func:`savepoint` when this
    transaction wrote something before the block (:func:`wrote_in_transaction`), which then
    stands; else by rolling the whole transaction back (its after-commit effects dropped),
    which saves the savepoint's two round trips. Yields whether there was something to keep.
    Re-raises what ended it."""
    if wrote_in_transaction():
        with savepoint():
            yield True
        return
    try:
        yield False
    except BaseException:
        rollback_unit_of_work()
        raise


def commit_unit_of_work() -> None:
    from app.extensions import db

    if not db.session.registry.has():
        return  # nothing touched the database (e.g. a page served from the cache)
    session = _session()
    try:
        session.flush()  # what fails here (a constraint, say) is certainly not stored
    except BaseException:
        session.info.pop(_AFTER_COMMIT, None)
        _run_undo(_take_undo(session))
        raise
    try:
        session.commit()
    except BaseException:
        # A COMMIT that failed (the connection lost on the way, say) may have been stored
        # all the same: what its rows may point at is kept (an orphan file at worst).
        session.info.pop(_AFTER_COMMIT, None)
        if _take_undo(session):
            log.warning("commit failed: files stored for it are kept, whether it stood or not")
        raise
    session.info.pop(_KEEP, None)
    _take_undo(session)
    callbacks = session.info.pop(_AFTER_COMMIT, {}).values()
    for fn in callbacks:
        try:
            fn()
        except Exception:
            # The data is stored; a failed side effect must not turn success into an error.
            # Durable side effects (notifications, webhooks) are re-driven by sweepers.
            log.exception("after-commit callback %r failed", fn)


def rollback_unit_of_work() -> None:
    from app.extensions import db

    if not db.session.registry.has():
        return
    session = _session()
    session.info.pop(_AFTER_COMMIT, None)  # dropped, whichever way the transaction ends
    try:
        _end_if_nothing_to_undo(session)
    finally:
        try:
            session.rollback()  # undoes what there is to undo (after a COMMIT, nothing)
        finally:  # a ROLLBACK that failed (the connection lost) undid the transaction too
            session.info.pop(_KEEP, None)
            _run_undo(_take_undo(session))


def end_unchanged_transaction() -> None:
    """At the end of a request (or any app context): a transaction still open then (an
    error page that read the cart after the request's unit of work was undone, say) is
    committed if it changed nothing (:func:`_nothing_to_undo`), before Flask-SQLAlchemy
    closes the session, which would end it with a ROLLBACK. Whatever else is left to the
    close, as before: nothing is run or undone here. Never raises: a request's end must not
    fail for it."""
    from app.extensions import db

    if not db.session.registry.has():
        return
    try:
        _end_if_nothing_to_undo(_session(), expire=False)
    except Exception:
        log.exception("could not end an open transaction at the end of the request")


def _end_if_nothing_to_undo(session: Any, *, expire: bool = True) -> None:
    """COMMIT when :func:`_nothing_to_undo`. ``expire=False``: what the session loaded stays
    loaded (the session is about to be closed, and whoever holds its objects past the end of
    the app context, a test or a task's caller, reads them as a close leaves them)."""
    if not _nothing_to_undo(session):
        return
    current = session()
    expiring = current.expire_on_commit
    current.expire_on_commit = expire
    try:
        current.commit()
    except Exception:  # the connection lost, say: the caller's ROLLBACK, or the close
        log.warning("could not commit a transaction that changed nothing", exc_info=True)
    finally:
        current.expire_on_commit = expiring


def _nothing_to_undo(session: Any) -> bool:
    """Whether the session's transaction can be ended with a COMMIT instead of a ROLLBACK
    (PostgreSQL through psycopg, :func:`app.db_engine.unchanged_on_server`): it holds a
    connection, no flush failed in it and no change is pending in the session. psycopg
    forgets every statement it has prepared on the connection at each ROLLBACK, and for the
    next five runs of each statement there, and five more, PostgreSQL plans it again: a 404
    before a checkout page made the page cost the database four times the CPU."""
    from app.db_engine import unchanged_on_server

    current = session()
    if not current.in_transaction() or not current.is_active:  # none, or a flush failed
        return False
    if not current.info.get(_CONNECTED):  # begun, but no statement yet: nothing to end
        return False
    if current.new or current.dirty or current.deleted:
        return False
    try:
        return unchanged_on_server(current.connection())
    except Exception:  # the connection lost, say: the ROLLBACK will tell
        log.warning("could not ask whether a transaction changed anything", exc_info=True)
        return False


def keep_on_refusal(reason: str) -> None:
    """What this unit of work wrote so far stands even when its entry point answers with an
    error: a failed sign-in counts toward the lockout, a reused refresh token stays revoked,
    the audit trail says so. The edge then commits instead of rolling back. Services that
    record such facts call it; entry points never commit themselves."""
    from app.extensions import db

    if db.session.registry.has():
        _session().info[_KEEP] = reason


def kept_on_refusal() -> bool:
    from app.extensions import db

    return db.session.registry.has() and bool(_session().info.get(_KEEP))


def commit_point(name: str) -> None:
    """A named phase boundary inside one entry point: the work so far is committed (its
    after-commit effects run) before the entry point goes on. Domain services own these,
    e.g. checkout commits the order and its reservation before it calls the payment
    provider, so no transaction (nor SQLite's write lock) is held during the network call.
    """
    log.debug("commit point %s", name)
    commit_unit_of_work()


@contextlib.contextmanager
def write_phase(name: str) -> Iterator[Any]:
    """A short writing transaction of its own inside a read-only entry point (a GET).

    The read transaction so far is ended first (it must not hold changes), and the new one
    begins as a writer (SQLite: ``BEGIN IMMEDIATE``, waiting its turn behind other writers
    for up to the busy timeout), so it can never fail half-way with "database is locked"
    after another writer committed; PostgreSQL is unaffected. Committed at the end, rolled
    back on error.
    """
    session = _session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(f"write phase {name!r} would commit unrelated pending changes")
    rollback_unit_of_work()
    with writer(), unit_of_work() as work:
        yield work
    log.debug("write phase %s committed", name)


@contextlib.contextmanager
def read_phase(name: str) -> Iterator[None]:
    """A read-only transaction of its own at the start of a writing entry point (a form
    post): on SQLite a deferred ``BEGIN``, so it does not queue behind other writers for the
    write lock, which a post's own transactions take from their first statement. For a
    question that may end the request before anything is written (is what this cart holds
    still in stock?), or that must not hold a transaction open while it waits on a provider.

    What the entry point did before it is committed first (say, the session's "last seen"
    that loading the signed-in user notes), as at a commit point. Nothing may be written
    inside; the transaction is ended either way, so the work after it starts afresh (and
    reads again what it relies on).
    """
    session = _session()
    commit_unit_of_work()  # the work so far stands; a transaction begun may be a writer
    try:
        with reader():
            yield
            if session.new or session.dirty or session.deleted or wrote_in_transaction():
                raise RuntimeError(f"read phase {name!r} changed something")
    finally:
        rollback_unit_of_work()
    log.debug("read phase %s ended", name)


@contextlib.contextmanager
def writer() -> Iterator[None]:
    """Transactions begun inside are writers (SQLite ``BEGIN IMMEDIATE``) whatever request
    may be around them: tasks run inline by an immediate-mode queue inside a GET, say."""
    token = _WRITER.set(True)
    try:
        yield
    finally:
        _WRITER.reset(token)


@contextlib.contextmanager
def reader() -> Iterator[None]:
    """Transactions begun inside promise to write nothing (SQLite: a deferred ``BEGIN``, no
    place in the writers' queue), whatever request or task is around them."""
    token = _READER.set(True)
    try:
        yield
    finally:
        _READER.reset(token)


@contextlib.contextmanager
def unit_of_work() -> Iterator[Any]:
    """One transaction: commit on success, roll back and re-raise on error."""
    session = _session()
    try:
        yield session
    except BaseException:
        rollback_unit_of_work()
        raise
    commit_unit_of_work()


def writes_expected() -> bool:
    """Whether a transaction begun now is a writer. SQLite takes the write lock up front
    where writes are expected (form posts, tasks, commands; app/db_engine.py), so a
    read-then-write transaction never fails with "database is locked" when another writer
    got in between; page views stay deferred so readers never queue."""
    from flask import has_request_context, request

    if _READER.get():  # promised to write nothing, even inside a task
        return False
    if _WRITER.get():
        return True
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return True


def upsert(entity: Any) -> Any:
    """An INSERT that can say ``on_conflict_do_nothing``/``on_conflict_do_update``, in the
    running database's dialect: rows that concurrent requests may both create (a line, an
    event, a suppression) are written in one statement that cannot collide."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    from app.extensions import db

    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    return insert(entity)


def bound_values(entity: Any, names: Iterable[str]) -> dict[str, sa.BindParameter[Any]]:
    """``{attribute: bindparam}`` for each of ``names``, typed as the attribute's column: the
    values of an INSERT built once per process (:func:`functools.cache`), bound at each
    execution. Building ``.values()`` from a row's literal values, and the cache key of
    every one of them, cost more than the INSERT's round trip on a press of Pay."""
    mapper = sa.inspect(entity)
    return {name: sa.bindparam(name, type_=mapper.attrs[name].columns[0].type) for name in names}


def affected(statement: sa.Executable) -> int:
    """Run a guarded UPDATE or DELETE in the current session and return how many rows it
    changed: the row-count check every conditional write in the shop relies on."""
    from app.extensions import db

    result = cast("sa.CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def one_of(column: str, values: Iterable[str], *, name: str) -> sa.CheckConstraint:
    """A CHECK that ``column`` holds one of ``values`` — pass the StrEnum itself, so the
    database refuses exactly what the code cannot name."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)

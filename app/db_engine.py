"""How the engine's pooled connections are set up, per database: SQLite's pragmas, its
explicit transactions and the writers' queue in front of its write lock; PostgreSQL's test
of a connection that sat idle, and whether its open transaction changed anything.
Installed once by the application factory; the unit of work that uses these connections is
:mod:`app.db`."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from typing import Any

import sqlalchemy as sa

from app.db import writes_expected

log = logging.getLogger(__name__)

IDLE_SINCE = "shop: idle since"


def unchanged_on_server(connection: sa.Connection) -> bool:
    """Whether the transaction open on ``connection`` has neither written nor locked a row,
    as PostgreSQL says (no transaction id was ever assigned to it), so that a COMMIT keeps
    what a ROLLBACK would: nothing (the shop sets no session-level settings and sends no
    NOTIFY, which a COMMIT would keep). One round trip. False on any other driver, and for a
    transaction not begun or one in which a statement failed (only a ROLLBACK ends that)."""
    if connection.dialect.driver != "psycopg":
        return False
    from psycopg.pq import TransactionStatus

    driver = connection.connection.driver_connection
    if driver is None or driver.info.transaction_status != TransactionStatus.INTRANS:
        return False
    asked = connection.exec_driver_sql("SELECT pg_current_xact_id_if_assigned()")
    return asked.scalar() is None


def ping_after_idle(engine: sa.Engine, seconds: float) -> None:
    """Test a pooled connection before use only when it sat unused for ``seconds`` or more
    (SQLAlchemy's ``pool_pre_ping`` tests it at every checkout).

    A request checks a connection out once per transaction, and checkout commits at its
    commit points before it calls the payment provider: with the pool's own pre-ping a press
    of Pay made three extra round trips to ask a connection it had used milliseconds before
    whether it was still there (about a tenth of the press, docs/performance.md). A
    connection that was idle, or whose idle time is unknown, is still tested (one just made
    is not), and one that fails is replaced and the rest of the pool with it, as pre-ping
    does. What this gives up: after a database restart, a connection used within the last
    ``seconds`` is not tested, so under steady traffic each worker's next request fails
    once (the error invalidates the pool, as SQLAlchemy does on any disconnect) where
    pre-ping would have reconnected it silently; and a press of Pay whose provider call
    took under ``seconds`` records its session without a test (a failure there is a 500
    the shopper's retry recovers from: the same attempt is sent again and Stripe returns
    the same session). Set ``DB_PING_AFTER_IDLE_SECONDS`` lower to narrow that window."""

    @sa.event.listens_for(engine, "connect")
    @sa.event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:  # made, or given back
        record.info[IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(IDLE_SINCE, None)
        if since is not None and time.monotonic() - since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise  # not a dead connection: as pre-ping, the error itself
            raise sa.exc.InvalidatePoolError(str(exc)) from exc


def configure_sqlite(engine: sa.Engine) -> None:
    """Per-connection pragmas, and transactions that SQLAlchemy (not pysqlite) controls.

    pysqlite's implicit transaction handling breaks SAVEPOINT and defers BEGIN; emitting
    BEGIN ourselves gives real transactions, which stock updates and tests rely on.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    database = engine.url.database
    queue = WriterQueue(f"{database}.writers") if database and database != ":memory:" else None

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if not writes_expected():
            conn.exec_driver_sql("BEGIN")
            return
        if queue is not None:
            queue.join(conn.connection.info)
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    if queue is not None:

        @sa.event.listens_for(engine, "checkin")
        @sa.event.listens_for(engine, "detach")
        def _left(_dbapi_connection: Any, record: Any) -> None:
            queue.leave(record.info)

        @sa.event.listens_for(engine, "close")
        @sa.event.listens_for(engine, "invalidate")
        def _gone(_dbapi_connection: Any, record: Any, *_exc: Any) -> None:
            queue.leave(record.info, close=True)


class WriterQueue:
    """SQLite writers wait for each other in a queue of their own, a file lock beside the
    database, instead of in SQLite's busy handler.

    The busy handler retries the write lock after sleeps that grow to 100 ms, so while some
    writers wait the lock is often free and nobody takes it: in a rush of buyers pressing Pay
    the presses went by slower than the machine could serve them (docs/performance.md). A
    writer here asks for the file lock every 0.5-2 ms instead, so the next one starts about
    when the last one commits; the lock is given back when the connection returns to the
    pool (after its commit or rollback), or dies, and with its process. SQLite's own lock,
    busy timeout and errors stay as they were behind it; a writer that waited 15 s is told
    "database is locked", as SQLite would. Hand-written (stdlib ``fcntl``, some 30 lines)
    rather than the ``filelock`` package: the lock belongs to a pooled connection, not to a
    thread, and is taken once per write transaction on the hot path."""

    TIMEOUT = 15.0

    def __init__(self, path: str) -> None:
        self.path = path

    def join(self, info: dict[Any, Any]) -> None:
        if info.get(_QUEUE_HELD):
            return
        fd = self._file(info)
        if fd is None:  # cannot be opened here: SQLite's busy handler alone, as before
            return
        deadline, pause = time.monotonic() + self.TIMEOUT, 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    locked = sqlite3.OperationalError("database is locked")
                    raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, locked) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
            else:
                info[_QUEUE_HELD] = True
                return

    def leave(self, info: dict[Any, Any], *, close: bool = False) -> None:
        opened = info.get(_QUEUE_FD)
        if opened is None:
            return
        pid, fd = opened
        if pid != os.getpid():  # a copy made by fork: the parent's lock, not ours
            info.pop(_QUEUE_FD, None)
            info.pop(_QUEUE_HELD, None)
            return
        if info.pop(_QUEUE_HELD, False):
            fcntl.flock(fd, fcntl.LOCK_UN)
        if close:
            del info[_QUEUE_FD]
            os.close(fd)

    def _file(self, info: dict[Any, Any]) -> int | None:
        """This connection's own descriptor of the queue's file, opened once per process
        (after a fork the child opens its own: a shared one would share the lock)."""
        opened = info.get(_QUEUE_FD)
        if opened is not None and opened[0] == os.getpid():
            return int(opened[1])
        info.pop(_QUEUE_HELD, None)
        try:
            # Readable and writable by whoever may write the database (its own mode).
            mode = os.stat(self.path.removesuffix(".writers")).st_mode & 0o666
        except OSError:
            mode = 0o600
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, mode)
        except OSError as exc:
            global _QUEUE_WARNED
            if not _QUEUE_WARNED:
                _QUEUE_WARNED = True
                log.warning("SQLite writers' queue %s unavailable (%s)", self.path, exc)
            return None
        info[_QUEUE_FD] = (os.getpid(), fd)
        return fd


_QUEUE_FD = "shop: writer queue file"
_QUEUE_HELD = "shop: writer queue held"
_QUEUE_WARNED = False

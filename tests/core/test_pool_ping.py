"""Pooled connections are tested before use only after sitting idle (app.db_engine.ping_after_idle):
a request that commits at its phases reuses its connection without asking the database
whether it is still there, and a connection that did sit idle and died meanwhile is
replaced instead of failing the request. Run on both databases (the app installs it on
PostgreSQL; SQLite's pool behaves the same for this)."""

from __future__ import annotations

import sqlalchemy as sa

from app.db_engine import IDLE_SINCE, ping_after_idle


def _engine(database_url: str, pings: list[object], monkeypatch) -> sa.Engine:
    engine = sa.create_engine(database_url, pool_size=1, max_overflow=0)
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    ping_after_idle(engine, 30.0)
    return engine


def _backend_pid(conn: sa.Connection) -> object:
    if conn.dialect.name == "postgresql":
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    return conn.connection.dbapi_connection


def test_a_connection_used_a_moment_ago_is_not_pinged_again(database_url, monkeypatch):
    pings: list[object] = []
    engine = _engine(database_url, pings, monkeypatch)
    try:
        for _ in range(3):  # three transactions in a row, as a press of Pay commits twice
            with engine.begin() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        assert pings == []  # nor when it was new
    finally:
        engine.dispose()


def test_a_connection_that_sat_idle_and_died_is_replaced_not_used(database_url, monkeypatch):
    pings: list[object] = []
    engine = _engine(database_url, pings, monkeypatch)
    try:
        records: list = []
        sa.event.listen(engine, "checkin", lambda _dbapi, record: records.append(record))
        with engine.connect() as conn:
            first = _backend_pid(conn)
        record = records[-1]
        # It dies while idle in the pool (a restarted database, a proxy's idle timeout).
        if engine.dialect.name == "postgresql":
            with sa.create_engine(database_url, poolclass=sa.NullPool).begin() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        else:
            record.dbapi_connection.close()
        record.info[IDLE_SINCE] -= 31  # and stayed unused longer than the idle limit
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
            assert _backend_pid(conn) != first
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_the_app_pings_postgresql_connections_only_after_idle(app):
    from app.extensions import db

    assert app.config["DB_PING_AFTER_IDLE_SECONDS"] == 1.0
    with app.app_context():
        engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping", False) is False
    assert bool(engine.pool.dispatch.checkout) is postgres

"""Throw-away databases for the suite: a SQLite file, or a fresh PostgreSQL database.

With ``DATABASE_URL`` set (CI's second run), each database the suite needs is created
on that server under a unique name and dropped at the end, so the suite never touches
data it did not create.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from app.config import normalise_database_url


def server_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return normalise_database_url(url) if url else None


def is_postgres() -> bool:
    return (server_url() or "").startswith("postgresql")


@contextlib.contextmanager
def temporary_database(tmp_dir: Path, label: str) -> Iterator[str]:
    base = server_url()
    if not base or not base.startswith("postgresql"):
        path = tmp_dir / f"{label}.db"
        yield f"sqlite:///{path}"
        return
    name = f"shop_{label}_{uuid.uuid4().hex[:10]}"
    admin_url = sa.engine.make_url(base)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

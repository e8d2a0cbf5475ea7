"""The Huey instance (SQLite by default, Redis with REDIS_URL) and the task decorators.

Tasks live next to their domain (``app/<domain>/tasks.py``) and import the queue from here;
``tasks.huey`` (see tasks/__init__.py) is the queue with all of them registered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import redis
from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey
from huey.storage import RedisStorage

from app.config import load_config
from app.core.redis import timeouts

_app: Flask | None = None


class ShortTimeoutRedisStorage(RedisStorage):
    """Huey's Redis storage whose commands (enqueue, schedule, results) answer within
    REDIS_TIMEOUT_SECONDS, so a web request never waits on a hung Redis for longer; only the
    consumer's blocking pop has a connection that waits past its own ``read_timeout``."""

    def __init__(self, name: str, *, url: str, timeout: float, **kwargs: Any) -> None:
        pool = redis.ConnectionPool.from_url(url, **timeouts(timeout))
        super().__init__(name, connection_pool=pool, **kwargs)
        self._popper = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=self.read_timeout + 2
        )

    def dequeue(self) -> bytes | None:
        if not self.blocking:
            return super().dequeue()
        try:
            # A synchronous client: the (key, value) pair or None, never an awaitable.
            popped = cast(
                "tuple[bytes, bytes] | None",
                self._popper.brpop([self.queue_key], timeout=self.read_timeout),
            )
        except redis.TimeoutError:
            return None  # empty; a ConnectionError propagates so the consumer backs off
        return popped[1] if popped else None


class ShopRedisHuey(RedisHuey):
    storage_class = ShortTimeoutRedisStorage


def make_huey(cfg: dict[str, Any]) -> Huey:
    immediate = bool(cfg["HUEY_IMMEDIATE"])
    if cfg["REDIS_URL"]:
        return ShopRedisHuey(
            cfg["HUEY_NAME"],
            url=cfg["REDIS_URL"],
            timeout=cfg["REDIS_TIMEOUT_SECONDS"],
            immediate=immediate,
            utc=True,
        )
    Path(cfg["HUEY_SQLITE_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        cfg["HUEY_NAME"], filename=cfg["HUEY_SQLITE_PATH"], immediate=immediate, utc=True
    )


huey = make_huey(load_config())


def task_app() -> Flask:
    """The app a task runs in: the caller's (immediate mode) or one per consumer process."""
    global _app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def shop_task(**task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@huey.task`` that runs the body in an app context and one unit of work."""

    def decorator(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            from app.db import unit_of_work, writer

            with task_app().app_context(), writer(), unit_of_work():
                return fn(*args, **kwargs)

        return huey.task(**task_kwargs)(run)

    return decorator


def shop_job(**task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@huey.task`` for a job runner: the body runs in an app context as a writer and opens
    its own units of work (``with unit_of_work():``), one per step, so no transaction is open
    while it waits on a provider and each step's outcome stands on its own."""

    def decorator(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            from app.db import writer

            with task_app().app_context(), writer():
                return fn(*args, **kwargs)

        return huey.task(**task_kwargs)(run)

    return decorator


def periodic_job(schedule: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@huey.periodic_task`` whose body runs in an app context as a writer; like
    :func:`shop_job`, it opens its own units of work (a sweep commits in batches)."""

    def decorator(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def run() -> Any:
            from app.db import writer

            with task_app().app_context(), writer():
                return fn()

        return huey.periodic_task(schedule)(run)

    return decorator

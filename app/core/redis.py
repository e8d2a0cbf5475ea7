"""Redis with short timeouts, and a breaker so a failing Redis costs one timeout, not one
per call.

Every Redis client the shop makes — the rate limiter's storage, the fragment cache, the Huey
producer, the readiness probe — connects and answers within ``REDIS_TIMEOUT_SECONDS``. A Redis
that hangs (accepts connections, never answers: a stopped process, a full network buffer)
then fails like a dead one, and each user falls back: the limiter to per-process memory (it
re-checks the storage with backoff), the cache to rendering (the breaker skips Redis for
``REDIS_RETRY_SECONDS`` after a failure), tasks to the sweepers that re-drive stored work.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

import redis

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 0.25  # seconds: a healthy Redis answers in well under a millisecond


def timeouts(seconds: float) -> dict[str, Any]:
    """Client options (redis-py) for connects and answers within ``seconds``."""
    return {"socket_connect_timeout": seconds, "socket_timeout": seconds}


@functools.cache
def redis_client(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    return redis.Redis.from_url(url, **timeouts(timeout))


def redis_ping(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    try:
        return bool(redis_client(url, timeout).ping())
    except redis.RedisError as exc:
        log.warning("redis ping failed: %s", type(exc).__name__)
        return False


class Breaker:
    """Skip a store for a while after it failed, so a request pays one timeout at most and
    the next ones none, until the store is tried again (one caller at a time)."""

    def __init__(self, name: str, retry_after: float = 5.0) -> None:
        self.name = name
        self.retry_after = retry_after
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """Whether to try the store now. When the pause is over one caller gets to try;
        the others keep skipping until it reports."""
        if self._open_until == 0.0:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._open_until:
                return False
            self._open_until = now + self.retry_after  # this caller probes; others skip
            return True

    def failed(self) -> None:
        with self._lock:
            if self._open_until == 0.0:
                log.warning("%s unavailable: skipped for %.0f s", self.name, self.retry_after)
            self._open_until = time.monotonic() + self.retry_after

    def succeeded(self) -> bool:
        """Note a success; True when it ends an outage."""
        if self._open_until == 0.0:
            return False
        with self._lock:
            self._open_until = 0.0
        log.info("%s available again", self.name)
        return True

    def reset(self) -> None:
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0

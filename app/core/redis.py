"""One Redis client per URL per process, with short timeouts."""

from __future__ import annotations

import functools
import logging

import redis

log = logging.getLogger(__name__)


@functools.cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def redis_ping(url: str) -> bool:
    try:
        return bool(redis_client(url).ping())
    except redis.RedisError as exc:
        log.warning("redis ping failed: %s", type(exc).__name__)
        return False

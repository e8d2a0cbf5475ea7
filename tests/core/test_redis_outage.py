"""A Redis that hangs: the process is stopped (SIGSTOP), so the kernel still accepts
connections but nothing ever answers — the worst way for a shared store to fail. Storefront
pages must keep answering within a second from their fallbacks, /readyz must say which
stores fail, the logs must not fill with one traceback per page, and everything must be back
once Redis continues (SIGCONT)."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis

from app.catalog.cache import VERSION_KEY
from app.catalog.cache import breaker as cache_breaker
from app.db import commit_unit_of_work
from tests.catalog import factories

PAGES = ("/", "/products", "/products?q=jumper", "/c/outage-knitwear", "/cart")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (Debian package redis-server)"
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own test server
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=0.5)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    try:
        yield process, url, client
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def watchdog():
    """Without timeouts a hung Redis hangs the request forever; fail instead of stalling CI."""

    def expire(signum, frame):
        raise TimeoutError("still waiting on the stopped Redis after 60 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _timed(client, path: str):
    started = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - started


def test_storefront_answers_within_a_second_while_redis_hangs(make_app, db, own_redis, watchdog):
    process, url, raw = own_redis
    knitwear = factories.category("Outage Knitwear")
    product = factories.product("Outage Jumper", category=knitwear, stock=5)
    commit_unit_of_work()
    app = make_app(
        REDIS_URL=url,
        RATELIMIT_STORAGE_URI=url,
        RATELIMIT_STORAGE_OPTIONS={},
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=url,
        REDIS_RETRY_SECONDS=1.0,
        LOG_REPEAT_SECONDS=60,
        SEARCH_STATS_FLUSH_SECONDS=30,  # as in production (tests store each search at once)
    )
    shopper = app.test_client()
    pages = (*PAGES, f"/products/{product.slug}")

    for path in pages:  # healthy: served, and the catalog cache is in Redis
        response, _ = _timed(shopper, path)
        assert response.status_code == 200, path
    assert raw.get(f"shoptest-{os.getpid()}:{VERSION_KEY}") is not None
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_shop_handler", False))
    log_file = io.StringIO()
    stream = handler.setStream(log_file)

    os.kill(process.pid, signal.SIGSTOP)
    try:
        slowest = 0.0
        served = 0
        deadline = time.monotonic() + 3  # past the cache's retry pause: it probes again
        while time.monotonic() < deadline:
            for path in pages:
                response, took = _timed(shopper, path)
                assert response.status_code == 200, (path, response.status_code)
                assert took < 1.0, (path, took)
                slowest = max(slowest, took)
                served += 1
            add = shopper.post(
                "/cart/add",
                data={"variant_id": product.variants[0].id, "quantity": 1},
                headers={"X-CSRFToken": _csrf(shopper)},
            )
            assert add.status_code in (302, 303), add.status_code
        ready, took = _timed(app.test_client(), "/readyz")
        assert took < 1.0
        assert ready.status_code == 503
        checks = ready.get_json()["checks"]
        assert checks["database"] == "ok"
        assert checks["rate_limits"] == checks["cache"] == checks["queue"] == "fail"
        assert app.test_client().get("/healthz").status_code == 200
        logged = log_file.getvalue()
    finally:
        os.kill(process.pid, signal.SIGCONT)
        handler.setStream(stream)

    assert served > 20
    # Logs: each distinct failure once (with a count later), not a traceback per page.
    assert logged.count("Traceback") <= 3, logged[:3000]
    assert len(logged) < 20_000, f"{len(logged)} bytes of log for {served} pages"

    # Back: after the retry pause the cache is used again, with a fresh catalog version.
    time.sleep(1.1)
    for path in pages:
        assert shopper.get(path).status_code == 200
    assert not cache_breaker.is_open
    assert raw.get(f"shoptest-{os.getpid()}:{VERSION_KEY}") is not None
    assert app.test_client().get("/readyz").status_code == 200


def _csrf(client) -> str:
    from tests.accounts.helpers import csrf_token

    return csrf_token(client, "/cart")

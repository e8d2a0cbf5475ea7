"""Catalog page speed under load, on SQLite and on PostgreSQL + Redis.

    .venv/bin/python -m bench.catalog [--products 100000] [--duration 10] [--connections 16]
                                      [--backends sqlite,postgres]      (make bench)

For each backend: a fresh database (SQLite file in a temporary directory, or a new
``shop_bench_<random>`` PostgreSQL database with Redis db 12), ``flask db upgrade``,
``flask shop seed`` (timed), then the app and a bare Flask "hello" app (bench/hello_app.py)
are served by gunicorn (2 sync workers, 127.0.0.1 only) and driven by ``wrk`` (2 threads,
``--connections`` connections, 2 s warm-up, ``--duration`` s measured, bench/report.lua).

Rows: hello, /healthz, cached catalog pages (one repeated URL each), a varied search that
rotates through ~1,000 two-word terms from the seed vocabulary (bench/search.lua) and a
varied listing over pages 1..400 (bench/pages.lua), meant to miss the catalog cache, plus
two rows without queueing: the varied search at 1 connection and a sequential probe of
uncached searches. The "miss" column estimates the share of requests that did miss the
cache, from the number of different URLs a row asked for.

Every row gets a fresh server (slow requests abandoned by wrk cannot leak into the next
row). CPU used by other programs during a row is measured (column "other"); a row is
measured again, at most ``--retries`` times, while that is ``--max-other`` or more, and the
least disturbed attempt is kept. A change to the application code during the run is
reported too. Prints one table per backend, PASS/FAIL for the targets, and writes
``bench/results/catalog-<backend>-<timestamp>.json``.

Everything it creates is removed at the end (also on Ctrl-C or SIGTERM): server process
groups, the temporary directory, the PostgreSQL database, the Redis db's keys.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextlib import suppress as _suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "gunicorn").exists() else Path(sys.executable).parent

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/12"
HOST = "127.0.0.1"  # loopback only, always

PAGE_VS_HEALTHZ_TARGET = 0.50  # each anonymous page's req/s: at least half of /healthz's (issue 22)
SEARCH_P95_TARGET_MS = 50.0  # varied (mostly uncached) search, p95 under load

FILTERED = "/products?category=clothing&min_price=20&max_price=120&in_stock=1&sort=price"
CATEGORY = "/c/clothing/men/shirts"

# Configuration the app reads that must not leak in from the caller's shell.
_STRIP_ENV = re.compile(
    r"^(DATABASE_URL|REDIS_URL|RATELIMIT_.*|PROMETHEUS_MULTIPROC_DIR|FLASK_.*|HUEY_.*|CACHE_.*"
    r"|DB_.*|SHOP_.*|LOG_.*|TRUSTED_PROXY_COUNT|METRICS_.*|SECRET_KEY|WTF_.*)$"
)


class BenchError(RuntimeError):
    """Something the user has to fix (missing tool, server that does not start, ...)."""


# --------------------------------------------------------------------------- measurements


@dataclass
class Row:
    name: str
    path: str
    server: str = "app"  # "app" or "hello"
    script: str = "report.lua"
    args: list[str] = field(default_factory=list)
    warmup_args: list[str] = field(default_factory=list)
    connections: int | None = None  # None: --connections
    info_only: bool = False  # shown, but not used by a target
    result: dict[str, Any] | None = None
    redis_misses: int | None = None  # Redis keyspace misses (several per uncached page)
    distinct_urls: int | None = None  # how many different URLs the row rotates through
    other_cpu: float | None = None  # share of all CPUs used by other programs meanwhile
    attempts: int = 1  # measured more than once when other programs were busy

    @property
    def rps(self) -> float:
        return self.result["rps"] if self.result else 0.0


WARMUP_TERMS = 150  # terms used only by warm-ups (they may repeat: they only warm up)
PROBE_TERMS = 20  # terms used only by the sequential probe
TYPO_TERMS = 40  # terms misspelt for the typo probe (a search that finds nothing, corrected)
TYPO_P95_TARGET_MS = 50.0  # one shopper's misspelt search, corrected, p95
SUGGEST_P95_TARGET_MS = 50.0  # one shopper's suggestions while typing, p95


def search_term_pool() -> list[str]:
    """Two-word searches from the seed vocabulary, so every one matches real products.

    Both word orders are used (different queries and cache keys, same kind of work), which
    gives enough distinct terms that a 10 s run at PostgreSQL speed does not wrap round and
    start hitting the cache. Fixed shuffle, so runs are comparable.
    """
    from app.catalog.seed import ADJECTIVES, BRANDS, MATERIALS, NOUNS

    nouns = sorted(set(NOUNS.values()))
    brands = [b.split()[0] for b in BRANDS]
    pairs = (
        [(a, m) for a in ADJECTIVES for m in MATERIALS]
        + [(m, n) for m in MATERIALS for n in nouns]
        + [(a, n) for a in ADJECTIVES for n in nouns]
        + [(b, n) for b in brands for n in nouns]
        + [(b, m) for b in brands for m in MATERIALS]
    )
    pool = [f"{x} {y}" for x, y in pairs] + [f"{y} {x}" for x, y in pairs]
    random.Random(20260601).shuffle(pool)  # noqa: S311 - a fixed order, not security
    return pool


def split_terms(n: int) -> dict[str, list[str]]:
    """Disjoint slices: a warm-up never fills the cache for a term that is measured later."""
    pool = search_term_pool()
    reserved = WARMUP_TERMS + PROBE_TERMS + TYPO_TERMS
    single = len(pool) - n - reserved  # the rest, for the 1-connection row
    if single < 100:
        most = len(pool) - reserved - 100
        raise BenchError(f"--search-terms can be at most {most} (the vocabulary has {len(pool)})")
    return {
        "measured": pool[:n],
        "single": pool[n : n + single],
        "warmup": pool[n + single : n + single + WARMUP_TERMS],
        "probe": pool[-PROBE_TERMS:],
        "typo": [misspell(t) for t in pool[-PROBE_TERMS - TYPO_TERMS : -PROBE_TERMS]],
        # What a shopper has typed on the way to a probe term: "cos", "cosy j", "cosy jac".
        "suggest": [
            t[:n] for t in pool[-PROBE_TERMS - TYPO_TERMS : -PROBE_TERMS] for n in (3, 6, 8)
        ],
    }


def misspell(term: str) -> str:
    """Each word of five letters or more with two inner letters swapped ("meirno jakcet"):
    the search finds nothing as typed and is corrected against the catalog's words."""
    words = []
    for word in term.split():
        if len(word) >= 5:
            word = word[:2] + word[3] + word[2] + word[4:]
        words.append(word)
    return " ".join(words)


def run_wrk(
    url: str,
    *,
    script: str,
    args: list[str],
    duration: float,
    connections: int,
    threads: int,
    timeout_s: float,
) -> dict[str, Any]:
    threads = max(1, min(threads, connections))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "-s",
        str(BENCH_DIR / script),
        url,
    ]
    if args:
        cmd += ["--", *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + timeout_s + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from exc
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise BenchError(
        f"wrk printed no result (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )


def redis_misses(redis_url: str | None) -> int | None:
    if not redis_url:
        return None
    import redis

    return int(redis.Redis.from_url(redis_url).info("stats")["keyspace_misses"])


# --------------------------------------------------------------------------- processes


def code_fingerprint() -> str:
    """A hash of the code being measured, to notice it changing in the middle of a run."""
    digest = hashlib.sha256()
    for base in ("app", "templates", "migrations", "wsgi.py"):
        path = ROOT / base
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts:
                digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


_OURS_BY_NAME = {"postgres", "redis-server"}  # they serve our requests (and maybe others')


def _cpu_by_process() -> dict[int, tuple[str, int, int]]:
    """pid -> (name, process group, CPU ticks so far), for every process we may read."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry.name)] = (name, int(fields[2]), int(fields[11]) + int(fields[12]))
    return out


class OtherCpu:
    """CPU used by programs other than this benchmark while a row runs.

    Ours: this process group (the benchmark and wrk), the server's process group, and
    PostgreSQL and Redis. Everything else (a test suite, a browser, another benchmark) is
    "other"; a large share means the row's numbers are low and not comparable. Processes that
    start and end within the row are missed, so this is a lower bound.
    """

    def __init__(self, server_pgid: int | None):
        self.ours = {os.getpgrp()} | ({server_pgid} if server_pgid else set())

    def __enter__(self) -> OtherCpu:
        self.start = time.monotonic()
        self.before = _cpu_by_process()
        return self

    def __exit__(self, *exc: object) -> None:
        after = _cpu_by_process()
        elapsed = time.monotonic() - self.start
        ticks = 0
        for pid, (name, pgid, cpu) in after.items():
            if pgid in self.ours or name in _OURS_BY_NAME:
                continue
            earlier = self.before.get(pid)  # None: started during the row
            ticks += cpu - (earlier[2] if earlier else 0)
        capacity = elapsed * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        self.share = max(0.0, ticks / capacity) if capacity else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _gunicorn_supports(flag: str) -> bool:
    out = subprocess.run(
        [str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False
    ).stdout
    return flag in out


class Server:
    """``gunicorn`` in its own process group; stopped (group and all) on exit."""

    def __init__(self, app: str, env: dict[str, str], opts: argparse.Namespace, log: Path):
        self.app, self.env, self.opts, self.log_path = app, env, opts, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def command(self) -> list[str]:
        cmd = [
            str(BIN / "gunicorn"),
            "-w",
            str(self.opts.workers),
            "-b",
            f"{HOST}:{self.port}",
            "-k",
            self.opts.worker_class,
        ]
        if self.opts.worker_class == "gthread":
            cmd += ["--threads", str(self.opts.gthreads)]
        if self.opts.no_control_socket:  # gunicorn >= 24 otherwise shares ~/.gunicorn/*.ctl
            cmd.append("--no-control-socket")
        return [*cmd, self.app]

    def __enter__(self) -> Server:
        self.port = free_port()
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group; Ctrl-C reaches us, not it
            )
        finally:
            log.close()
        try:
            self._wait_ready("/healthz" if self.app == "wsgi:app" else "/")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _wait_ready(self, path: str, timeout: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn {self.app} exited:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise BenchError(f"gunicorn {self.app} did not answer {path} in {timeout:.0f}s")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        # SIGINT is gunicorn's quick shutdown; a worker stuck in a long query gets SIGKILL.
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may outlive its leader for a moment (workers being reaped).
        with _suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def flask_cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"flask {' '.join(args)} took longer than {timeout:.0f}s") from exc
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr, elapsed


# --------------------------------------------------------------------------- backends


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    db_url: str
    redis_url: str | None
    versions: dict[str, str]


def base_env(instance_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _STRIP_ENV.match(k)}
    env.update(
        SHOP_ENV="development",
        SHOP_INSTANCE_DIR=str(instance_dir),
        RATELIMIT_ENABLED="false",  # the load comes from one client; do not throttle it
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def sqlite_backend(tmp: Path) -> Iterator[Backend]:
    instance = tmp / "instance"
    instance.mkdir()
    env = base_env(instance)
    yield Backend(
        "sqlite",
        env,
        f"sqlite:///{instance / 'shop.db'}",
        None,
        {"sqlite": sqlite3.sqlite_version},
    )


def one_backend(name: str, tmp: Path) -> Any:
    """The backend called ``name`` ("postgres": a new database on the local server and Redis
    db 12; else a SQLite file in ``tmp``), as a context manager."""
    if name == "postgres":
        return postgres_backend(tmp, PG_ADMIN_URL, REDIS_URL)
    return sqlite_backend(tmp)


@contextmanager
def postgres_backend(tmp: Path, admin_url: str, redis_url: str) -> Iterator[Backend]:
    import redis
    import sqlalchemy as sa

    name = f"shop_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    r = redis.Redis.from_url(redis_url)
    try:
        with admin.connect() as conn:
            pg_version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            autovacuum = conn.execute(sa.text("SHOW autovacuum")).scalar_one()
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise BenchError(f"PostgreSQL at {admin_url} is not reachable: {exc.orig}") from exc
    try:
        try:
            r.flushdb()
            redis_version = r.info("server")["redis_version"]
        except redis.exceptions.ConnectionError as exc:
            raise BenchError(f"Redis at {redis_url} is not reachable: {exc}") from exc
        db_url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        instance = tmp / "instance"
        instance.mkdir()
        env = base_env(instance)
        env.update(DATABASE_URL=db_url, REDIS_URL=redis_url)
        yield Backend(
            "postgres",
            env,
            db_url,
            redis_url,
            {
                "postgresql": str(pg_version),
                "postgresql_autovacuum": str(autovacuum),
                "redis": str(redis_version),
            },
        )
    finally:
        with _suppress(Exception):
            r.flushdb()
        r.close()
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # say so, do not hide the original error
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
        admin.dispose()


def pick_product_slug(db_url: str, products: int) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            slug = conn.execute(
                sa.text(
                    "SELECT slug FROM products WHERE status = 'published' "
                    "ORDER BY id LIMIT 1 OFFSET :n"
                ),
                {"n": min(500, max(products - 1, 0))},
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    if slug is None:
        raise BenchError("no published product after seeding")
    return slug


# --------------------------------------------------------------------------- one backend


def plan_rows(opts: argparse.Namespace, slug: str, terms_dir: Path) -> list[Row]:
    n = opts.search_terms
    terms = split_terms(n)
    files = {}
    for label in ("measured", "single", "warmup"):
        path = terms_dir / f"terms-{label}.txt"
        path.write_text("\n".join(terms[label]) + "\n")
        files[label] = str(path)
    threads = str(opts.threads)
    pages = opts.pages
    rows = [
        Row("hello (bare Flask) /", "/", server="hello"),
        Row("healthz", "/healthz"),
        Row("home /", "/"),
        Row("listing /products", "/products"),
        Row("listing filtered", FILTERED),
        Row("search q=wool (repeated URL)", "/products?q=wool"),
        Row(
            "search (varied, mostly uncached)",
            "/products",
            script="search.lua",
            args=[files["measured"], threads],
            warmup_args=[files["warmup"], threads],
            distinct_urls=n,
        ),
        Row(
            "listing (varied pages)",
            "/products",
            script="pages.lua",
            args=["1", str(pages), threads],
            warmup_args=[str(pages + 1), str(2 * pages), threads],
            distinct_urls=pages,
        ),
        Row("category " + CATEGORY, CATEGORY),
        Row("product /products/<slug>", f"/products/{slug}"),
    ]
    if opts.single_connection:
        rows.append(
            Row(
                "search (varied, 1 connection)",
                "/products",
                script="search.lua",
                args=[files["single"], "1"],
                warmup_args=[files["warmup"], "1"],
                connections=1,
                info_only=True,
                distinct_urls=len(terms["single"]),
            )
        )
    if opts.probe_budget > 0:
        # One shopper at a time, no queueing: the latency of the work itself.
        # Each warms both workers up on its own kind of request (a worker's first correction
        # or suggestion loads what later ones reuse), with terms it does not measure.
        warm = terms["warmup"][:8]
        for name, path, args, warmup in (
            ("search (sequential probe, uncached)", "/products", terms["probe"], warm),
            (
                "suggestions (typing, sequential)",
                "/search/suggestions",
                terms["suggest"],
                [t[:4] for t in warm],
            ),
            (
                "search (typo, sequential, corrected)",
                "/products",
                terms["typo"],
                [misspell(t) for t in warm],
            ),
        ):
            rows.append(
                Row(
                    name,
                    path,
                    script="probe",
                    args=args,
                    warmup_args=warmup,
                    connections=1,
                    info_only=True,
                )
            )
    return rows


def measure(row: Row, server: Server, opts: argparse.Namespace, redis_url: str | None) -> None:
    conns = row.connections or opts.connections
    url = server.base_url + row.path
    common = {
        "script": row.script,
        "connections": conns,
        "threads": 1 if conns == 1 else opts.threads,
        "timeout_s": opts.wrk_timeout,
    }
    if opts.warmup > 0:
        run_wrk(url, args=row.warmup_args or row.args, duration=opts.warmup, **common)
    before = redis_misses(redis_url) if row.server == "app" else None
    with OtherCpu(server.proc.pid if server.proc else None) as other:
        row.result = run_wrk(url, args=row.args, duration=opts.duration, **common)
    row.other_cpu = other.share
    if before is not None:
        row.redis_misses = redis_misses(redis_url) - before
    print(f"  {row.name:<36} {_summary(row.result)}{_other_note(row)}", flush=True)


def _other_note(row: Row) -> str:
    if row.other_cpu is None or row.other_cpu < 0.05:
        return ""
    return f"  (other programs used {row.other_cpu:.0%} of the CPUs)"


def probe(
    row: Row, server: Server, terms: list[str], budget_s: float, warmup: Sequence[str] = ()
) -> None:
    """Uncached searches one at a time, no concurrency: the latency of the work itself.

    Bounded: no new request after ``budget_s``; one still running then may take up to
    ``budget_s`` more before it times out.
    """

    def request(term: str) -> urllib.request.Request:
        url = f"{server.base_url}{row.path}?q={urllib.parse.quote_plus(term)}"
        headers = {"HX-Request": "true"} if row.path == "/search/suggestions" else {}
        return urllib.request.Request(url, headers=headers)  # noqa: S310

    for term in warmup:  # a fresh worker's first requests connect and compile templates
        with (
            _suppress(TimeoutError, urllib.error.URLError, OSError),
            urllib.request.urlopen(request(term), timeout=budget_s) as r,  # noqa: S310
        ):
            r.read()
    times: list[float] = []
    timeouts = 0
    started = time.monotonic()
    for term in terms:
        if time.monotonic() - started > budget_s:
            break
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(request(term), timeout=budget_s) as r:  # noqa: S310
                r.read()
            times.append((time.perf_counter() - t0) * 1000)
        except (TimeoutError, urllib.error.URLError, OSError):
            timeouts += 1
    elapsed = time.monotonic() - started
    times.sort()

    def pct(q: float) -> float:
        return times[min(len(times) - 1, int(q * len(times)))] if times else 0.0

    row.distinct_urls = len(times) + timeouts
    row.result = {
        "requests": len(times),
        "duration_s": round(elapsed, 3),
        "rps": len(times) / elapsed if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": times[-1] if times else 0.0,
        "mean_ms": sum(times) / len(times) if times else 0.0,
        "samples_ms": [round(t, 1) for t in times],
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": timeouts},
    }
    print(f"  {row.name:<36} {_summary(row.result)}", flush=True)


def _summary(res: dict[str, Any]) -> str:
    errs = sum(res["errors"].values())
    if not res["requests"]:
        return f"no request completed in {res['duration_s']:.0f}s (errors {errs})"
    return (
        f"{res['rps']:>8.1f} req/s  p50 {res['p50_ms']:>7.1f} ms  "
        f"p95 {res['p95_ms']:>7.1f} ms  errors {errs}"
    )


def analyze(backend: Backend) -> None:
    """Planner statistics after the bulk load (see ``--analyze``)."""
    import sqlalchemy as sa

    engine = sa.create_engine(backend.db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE" if backend.name == "postgres" else "ANALYZE"))
    finally:
        engine.dispose()


def has_statistics(backend: Backend) -> bool:
    """Whether the planner has statistics for ``products`` (the seed may ANALYZE itself)."""
    import sqlalchemy as sa

    if backend.name == "postgres":
        sql = (
            "SELECT (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) "
            "FROM pg_stat_user_tables WHERE relname = 'products'"
        )
    else:
        sql = (
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1') "
            "AND EXISTS (SELECT 1 FROM sqlite_stat1 WHERE tbl = 'products')"
        )
    engine = sa.create_engine(backend.db_url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(sql)).scalar())
    except sa.exc.SQLAlchemyError:  # sqlite_stat1 missing: the AND does not short-circuit
        return False
    finally:
        engine.dispose()


def settle(backend: Backend) -> None:
    """Write the seed's dirty pages out now, not during the first measured rows."""
    if backend.name == "postgres":
        import sqlalchemy as sa

        engine = sa.create_engine(backend.db_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("CHECKPOINT"))
        except sa.exc.SQLAlchemyError as exc:  # needs superuser or pg_checkpoint
            print(f"   (CHECKPOINT skipped: {type(exc.orig).__name__})", flush=True)
        finally:
            engine.dispose()
    os.sync()
    time.sleep(2)


def pg_last_analyze(backend: Backend) -> str | None:
    """When PostgreSQL last analyzed ``products`` (autovacuum may do so during the run)."""
    if backend.name != "postgres":
        return None
    import sqlalchemy as sa

    engine = sa.create_engine(backend.db_url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                sa.text(
                    "SELECT greatest(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                    "WHERE relname = 'products'"
                )
            ).scalar()
    finally:
        engine.dispose()
    return value.isoformat() if value else None


def run_row(row: Row, backend: Backend, opts: argparse.Namespace, log: Path) -> None:
    """Measure one row on a fresh server; again (up to ``--retries`` times) while other
    programs take ``--max-other`` or more of the CPUs, keeping the least disturbed attempt.

    A fresh server for every attempt: requests that wrk abandoned at the end of a slow row
    would otherwise keep the workers busy during the next one. Before a retry the Redis db is
    flushed, so that the cache is as cold as for the first attempt.
    """
    app_name = "bench.hello_app:app" if row.server == "hello" else "wsgi:app"
    attempts: list[tuple[float, dict[str, Any] | None, int | None]] = []
    for attempt in range(1 + max(0, opts.retries)):
        if attempt and backend.redis_url:
            import redis

            redis.Redis.from_url(backend.redis_url).flushdb()
        with Server(app_name, backend.env, opts, log) as server:
            if row.script == "probe":
                before = redis_misses(backend.redis_url)
                with OtherCpu(server.proc.pid if server.proc else None) as other:
                    probe(row, server, row.args, opts.probe_budget, row.warmup_args)
                row.other_cpu = other.share
                if before is not None:
                    row.redis_misses = redis_misses(backend.redis_url) - before
            else:
                measure(row, server, opts, backend.redis_url if row.server == "app" else None)
        attempts.append((row.other_cpu or 0.0, row.result, row.redis_misses))
        if (row.other_cpu or 0.0) < opts.max_other:
            break
    row.attempts = len(attempts)
    best = min(range(len(attempts)), key=lambda i: attempts[i][0])
    row.other_cpu, row.result, row.redis_misses = attempts[best]
    if len(attempts) > 1:
        print(
            f"  {'':<36} kept attempt {best + 1} of {len(attempts)} "
            f"(other programs: {', '.join(f'{a[0]:.0%}' for a in attempts)})",
            flush=True,
        )


def run_backend(backend: Backend, opts: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = backend.env
    code_before = code_fingerprint()
    print(f"\n== {backend.name}: migrate", flush=True)
    flask_cli(["db", "upgrade"], env, timeout=600)
    print(f"== {backend.name}: seed {opts.products:,} products", flush=True)
    seed_out, seed_wall = flask_cli(
        ["shop", "seed", "--products", str(opts.products), "--images", "0"], env, timeout=3600
    )
    m = re.search(r"Seeded ([\d,]+) products with ([\d,]+) variants.* in ([\d.]+)s", seed_out)
    seed = {
        "products": opts.products,
        "variants": int(m.group(2).replace(",", "")) if m else None,
        "seed_command_s": float(m.group(3)) if m else None,  # as `shop seed` reports it
        "seed_wall_s": round(seed_wall, 2),  # the whole `flask shop seed` process
    }
    print(
        f"   seed took {seed_wall:.1f}s wall ({seed['seed_command_s']}s inside the command, "
        f"{seed['variants']} variants)",
        flush=True,
    )
    seeded_stats = has_statistics(backend)
    print(
        "   planner statistics after the seed: "
        + ("yes (the seed ran ANALYZE)" if seeded_stats else "none"),
        flush=True,
    )
    bench_analyze = opts.analyze == "all" or (opts.analyze == "pg" and backend.name == "postgres")
    if bench_analyze:
        started = time.perf_counter()
        analyze(backend)
        what = "VACUUM ANALYZE" if backend.name == "postgres" else "ANALYZE"
        print(f"   {what} by the benchmark took {time.perf_counter() - started:.1f}s", flush=True)
    statistics = ("from the seed's ANALYZE" if seeded_stats else "none") + (
        " + the benchmark's VACUUM ANALYZE"
        if bench_analyze and backend.name == "postgres"
        else " + the benchmark's ANALYZE"
        if bench_analyze
        else ""
    )
    settle(backend)
    slug = pick_product_slug(backend.db_url, opts.products)
    rows = plan_rows(opts, slug, tmp)
    log = tmp / "gunicorn.log"

    print(
        f"== {backend.name}: load ({opts.connections} connections, {opts.threads} wrk threads, "
        f"{opts.warmup:g}s warm-up + {opts.duration:g}s per row, a fresh server per row)",
        flush=True,
    )
    for row in rows:
        run_row(row, backend, opts, log)
    code_after = code_fingerprint()
    return {
        "code": code_before if code_before == code_after else f"{code_before}->{code_after}",
        "code_changed": code_before != code_after,
        "seed": seed,
        "rows": rows,
        "slug": slug,
        "analyzed": bench_analyze,
        "statistics": statistics,
        "last_analyze": pg_last_analyze(backend),
    }


# --------------------------------------------------------------------------- reporting


def find(rows: list[Row], name: str) -> Row:
    return next(r for r in rows if r.name == name)


# The anonymous catalog pages issue 22 holds to half of /healthz: one URL each, asked again
# and again, as a crawler, a CDN or new shoppers following the same link would.
ANONYMOUS_PAGES = (
    "home /",
    "listing /products",
    "listing filtered",
    "search q=wool (repeated URL)",
    "category " + CATEGORY,
    "product /products/<slug>",
)


def checks_for(rows: list[Row]) -> list[dict[str, Any]]:
    healthz = find(rows, "healthz")
    search = find(rows, "search (varied, mostly uncached)")
    res = search.result or {"requests": 0, "p95_ms": 0.0, "errors": {"timeout": 0}}
    timeouts = res["errors"]["timeout"]
    if not res["requests"]:
        search_value = f"no request completed within {res.get('duration_s', 0):.0f}s"
    elif timeouts:
        # wrk leaves requests slower than its --timeout out of the percentiles.
        search_value = f"{res['p95_ms']:.1f} ms, but {timeouts} timeouts (excluded by wrk)"
    else:
        search_value = f"{res['p95_ms']:.1f} ms"
    errors = sum(sum(r.result["errors"].values()) for r in rows if r.result)
    page_checks = []
    for name in ANONYMOUS_PAGES:
        page = find(rows, name)
        ratio = page.rps / healthz.rps if healthz.rps else 0.0
        # A quick error page or redirect is no page served: wrk counts answers other than
        # 2xx/3xx as "status" errors.
        failed = page.result["errors"]["status"] if page.result else 0
        value = f"{ratio:.0%} ({page.rps:.0f} vs {healthz.rps:.0f} req/s)"
        page_checks.append(
            {
                "check": f"{name} req/s >= {PAGE_VS_HEALTHZ_TARGET:.0%} of /healthz",
                "value": value + (f", but {failed} error answers" if failed else ""),
                "passed": ratio >= PAGE_VS_HEALTHZ_TARGET and not failed and page.rps > 0,
            }
        )
    return [
        *page_checks,
        {
            "check": f"search (varied) p95 < {SEARCH_P95_TARGET_MS:.0f} ms",
            "value": search_value,
            "passed": bool(res["requests"])
            and not timeouts
            and res["p95_ms"] < SEARCH_P95_TARGET_MS,
        },
        *_typo_check(rows),
        {
            "check": "no wrk errors on any row (info)",
            "value": str(errors),
            "passed": errors == 0,
            "info": True,
        },
    ]


def _typo_check(rows: list[Row]) -> list[dict[str, Any]]:
    checks = []
    for name, label, target in (
        ("suggestions (typing, sequential)", "suggestions (one shopper)", SUGGEST_P95_TARGET_MS),
        ("search (typo, sequential, corrected)", "typo search (one shopper)", TYPO_P95_TARGET_MS),
    ):
        row = next((r for r in rows if r.name == name), None)
        if row is None or not row.result:
            continue
        p95 = row.result["p95_ms"]
        checks.append(
            {
                "check": f"{label} p95 < {target:.0f} ms",
                "value": f"{p95:.1f} ms",
                "passed": bool(row.result["requests"]) and p95 < target,
            }
        )
    return checks


def miss_note(row: Row, backend: str, workers: int) -> str:
    """Share of requests that missed the catalog cache, from how many different URLs a row
    asked for: a URL misses the first time it is asked for (the warm-ups use other URLs, and
    the cache lifetime is longer than a row). Redis is one cache for both workers; without
    Redis each worker has its own, so a URL can miss once per worker: a range."""
    if row.server != "app" or not row.result:
        return ""
    total = row.result["requests"]
    if not total:
        return "-"
    if not row.distinct_urls:
        return "~0%"  # one URL, cached during the warm-up
    low = min(row.distinct_urls, total) / total
    if backend == "postgres":
        return f"{low:.0%}"
    high = min(row.distinct_urls * workers, total) / total
    return f"{low:.0%}" if round(high * 100) == round(low * 100) else f"{low:.0%}-{high:.0%}"


def print_table(backend: str, result: dict[str, Any], opts: argparse.Namespace) -> None:
    rows: list[Row] = result["rows"]
    healthz = find(rows, "healthz").rps
    hello = find(rows, "hello (bare Flask) /").rps
    header = (
        f"{'name':<36} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'/healthz':>8} {'/hello':>7} {'miss':>8} {'other':>6}"
    )
    print(
        f"\n{backend}: {opts.products:,} products, {opts.connections} connections, "
        f"planner statistics: {result['statistics']}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        res = r.result or {"requests": 0, "errors": {}}
        errs = sum(res.get("errors", {}).values())
        if res["requests"]:
            lat = f"{res['p50_ms']:>8.1f} {res['p95_ms']:>8.1f} {res['p99_ms']:>8.1f}"
        else:
            lat = f"{'-':>8} {'-':>8} {'-':>8}"
        print(
            f"{r.name:<36} {res.get('rps', 0):>8.1f} {lat} {errs:>6} "
            f"{(r.rps / healthz if healthz else 0):>8.2f} {(r.rps / hello if hello else 0):>7.2f} "
            f"{miss_note(r, backend, opts.workers):>8} "
            f"{(f'{r.other_cpu:.0%}' if r.other_cpu is not None else ''):>6}"
        )
    print(
        "(/healthz, /hello: req/s relative to the app's /healthz and to bare Flask; "
        "other: CPU share used by other programs during the row; "
        "miss: share of requests that missed the catalog cache, from the number of "
        "different URLs asked for"
        + (" (Redis: one cache)" if backend == "postgres" else " (a cache per worker)")
        + ")"
    )
    if any(r.result and r.result["errors"]["timeout"] for r in rows):
        print(
            f"(errors include wrk timeouts: responses slower than {opts.wrk_timeout:g}s are left "
            "out of the percentiles, and requests still running when a row ends are not counted)"
        )
    worst = max((r.other_cpu or 0.0) for r in rows)
    if worst >= 0.10:
        print(
            f"WARNING: other programs used up to {worst:.0%} of the CPUs during some rows "
            "(column 'other'); those rows are slowed down and not comparable. Run it again "
            "on a quiet machine."
        )
    if result["code_changed"]:
        print(
            "WARNING: the application code changed during this run "
            f"({result['code']}); the rows measured different versions. Run it again."
        )
    for c in result["checks"]:
        status = "PASS" if c["passed"] else "FAIL"
        print(f"  {status}  {c['check']}: {c['value']}")


def cpu_busy(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy right now (from /proc/stat), before we add any load."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return 1 - (idle1 - idle0) / total if total else None


def machine_info(opts: argparse.Namespace) -> dict[str, Any]:
    mem_kb = 0
    with _suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with _suppress(OSError):
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    wrk_version = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    gunicorn_version = subprocess.run(
        [str(BIN / "gunicorn"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "gunicorn": gunicorn_version,
        "wrk": wrk_version,
        "cpu_busy_at_start": cpu_busy(),
    }


def settings(opts: argparse.Namespace) -> dict[str, Any]:
    return {
        "products": opts.products,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "connections": opts.connections,
        "wrk_threads": opts.threads,
        "wrk_timeout_s": opts.wrk_timeout,
        "gunicorn_workers": opts.workers,
        "gunicorn_worker_class": opts.worker_class,
        "gunicorn_threads": opts.gthreads if opts.worker_class == "gthread" else 1,
        "search_terms": opts.search_terms,
        "varied_pages": opts.pages,
        "analyze": opts.analyze,
        "probe_budget_s": opts.probe_budget,
    }


def write_json(
    backend: Backend,
    result: dict[str, Any],
    opts: argparse.Namespace,
    stamp: str,
    machine: dict[str, Any],
) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"catalog-{backend.name}-{stamp}.json"
    rows = result["rows"]
    healthz = find(rows, "healthz").rps
    hello = find(rows, "hello (bare Flask) /").rps
    doc = {
        "backend": backend.name,
        "timestamp": stamp,
        "machine": {**machine, **backend.versions},
        "settings": settings(opts),
        "seed": result["seed"],
        "code_fingerprint": result["code"],
        "code_changed_during_run": result["code_changed"],
        "product_slug": result["slug"],
        "analyzed_by_benchmark": result["analyzed"],
        "planner_statistics": result["statistics"],
        "postgres_last_analyze": result.get("last_analyze"),
        "rows": [
            {
                **{k: v for k, v in asdict(r).items() if k not in {"args", "warmup_args"}},
                "vs_healthz": round(r.rps / healthz, 3) if healthz else None,
                "vs_hello": round(r.rps / hello, 3) if hello else None,
                "cache_miss": miss_note(r, backend.name, opts.workers) or None,
            }
            for r in rows
        ],
        "checks": result["checks"],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.catalog", description=__doc__.split("\n")[0])
    p.add_argument("--products", type=int, default=100_000, help="products to seed [100000]")
    p.add_argument("--duration", type=float, default=10, help="seconds measured per URL [10]")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per URL [2]")
    p.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    p.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    p.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    p.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="gunicorn -k [sync]"
    )
    p.add_argument("--gthreads", type=int, default=4, help="threads per gthread worker [4]")
    p.add_argument(
        "--search-terms", type=int, default=1000, help="distinct terms in the varied search [1000]"
    )
    p.add_argument("--pages", type=int, default=400, help="varied listing pages 1..N [400]")
    p.add_argument("--wrk-timeout", type=float, default=5, help="wrk per-request timeout [5]")
    p.add_argument(
        "--no-single-connection",
        dest="single_connection",
        action="store_false",
        help="skip the extra varied-search row at 1 connection (latency without queueing)",
    )
    p.add_argument(
        "--analyze",
        choices=("pg", "all", "none"),
        default="pg",
        help="planner statistics after seeding: pg = VACUUM ANALYZE PostgreSQL only (what "
        "autovacuum does in production), all = also ANALYZE SQLite (nothing in the app "
        "does that), none [pg]",
    )
    p.add_argument(
        "--probe-budget",
        type=float,
        default=60,
        help="seconds for the sequential uncached-search probe, 0 to skip [60]",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a row again (fresh server, cold cache) while other programs use "
        "--max-other of the CPUs or more; the least disturbed attempt is kept [2]",
    )
    p.add_argument(
        "--max-other",
        type=float,
        default=0.10,
        help="share of the CPUs other programs may use during a row [0.10]",
    )
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="server to create the database on")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis db to use (flushed!)")
    p.add_argument("--fail-on-target", action="store_true", help="exit 1 when a target fails")
    opts = p.parse_args(argv)
    opts.backends = [b.strip() for b in opts.backends.split(",") if b.strip()]
    unknown = set(opts.backends) - {"sqlite", "postgres"}
    if unknown or not opts.backends:
        p.error(f"--backends takes sqlite and/or postgres, not {','.join(sorted(unknown))}")
    if opts.duration <= 0 or opts.connections < 1 or opts.threads < 1 or opts.products < 1:
        p.error("--duration, --connections, --threads and --products must be positive")
    return opts


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "bench.catalog needs wrk (HTTP load generator). Install it, e.g. on Debian/Ubuntu:\n"
            "    sudo apt-get update && sudo apt-get install -y wrk",
            file=sys.stderr,
        )
        return 2
    if not (BIN / "gunicorn").exists():
        print(f"gunicorn not found in {BIN}; run `make install` first", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # clean up on kill, too
    opts.no_control_socket = _gunicorn_supports("--no-control-socket")
    sys.path.insert(0, str(ROOT))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    machine = machine_info(opts)
    print(
        f"bench.catalog: {opts.products:,} products, backends {','.join(opts.backends)}; "
        f"gunicorn {opts.workers} {opts.worker_class} workers; wrk -t{opts.threads} "
        f"-c{opts.connections}; {machine['nproc']} CPUs shared by wrk and gunicorn"
    )
    busy = machine["cpu_busy_at_start"]
    if busy is not None and busy > 0.2:
        print(
            f"warning: {busy:.0%} of the CPUs are already busy before the benchmark starts; "
            "other processes will share them, so the numbers will be low and noisy"
        )
    failed = False
    try:
        for name in opts.backends:
            with tempfile.TemporaryDirectory(prefix=f"shop-bench-{name}-") as tmpdir:
                tmp = Path(tmpdir)
                ctx = (
                    sqlite_backend(tmp)
                    if name == "sqlite"
                    else postgres_backend(tmp, opts.pg_url, opts.redis_url)
                )
                with ctx as backend:
                    result = run_backend(backend, opts, tmp)
                    result["checks"] = checks_for(result["rows"])
                    print_table(name, result, opts)
                    path = write_json(backend, result, opts, stamp, machine)
                    print(f"  results: {path.relative_to(ROOT)}")
                    failed = failed or not all(
                        c["passed"] for c in result["checks"] if not c.get("info")
                    )
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and databases removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench.catalog: {exc}", file=sys.stderr)
        return 1
    return 1 if failed and opts.fail_on_target else 0


if __name__ == "__main__":
    sys.exit(main())

"""JSON API read throughput next to the bare-Flask baseline.

    .venv/bin/python -m bench.api [--products 3000] [--duration 5] [--connections 16]
                                  [--backends sqlite[,postgres]] [--no-limits-rows]

Seeds ``--products`` products (``flask shop seed``), then serves the shop and the bare Flask
app (bench/hello_app.py) with gunicorn (2 sync workers, 127.0.0.1 only) and drives them with
``wrk`` (2 s warm-up, ``--duration`` s measured, a fresh server per row):

* ``GET /api/v1/products`` (first page), a later page by ``?cursor=…`` and
  ``GET /api/v1/products/<slug>``, each once plain (200 with a body) and once with the
  ETag it was given in ``If-None-Match`` (the 304 path: the body is still built to compare);
* the detail rows again with rate limits on (very high quotas, so nothing is refused: this
  measures what counting costs, per-process memory on SQLite, Redis with PostgreSQL).

Rate limits are off otherwise, since all load comes from one address. Reuses the catalog
benchmark's plumbing (bench/catalog.py). Prints a table of req/s and latency percentiles and
the share of the CPUs other programs used meanwhile (numbers are low when that is high; a
row is measured again, up to ``--retries`` times, while it is ``--max-other`` or more, and
the least disturbed attempt is kept).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.catalog import (
    BENCH_DIR,
    BIN,
    PG_ADMIN_URL,
    REDIS_URL,
    ROOT,
    BenchError,
    OtherCpu,
    Server,
    _gunicorn_supports,
    flask_cli,
    machine_info,
    pick_product_slug,
    postgres_backend,
    sqlite_backend,
)

LIST = "/api/v1/products"
HUGE_QUOTA = "100000000 per minute"


@dataclass
class Row:
    name: str
    path: str
    server: str = "app"  # "app", "app+limits" or "hello"
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200
    result: dict[str, Any] | None = None
    other_cpu: float | None = None


def run_wrk(url: str, headers: dict[str, str], duration: float, opts: argparse.Namespace) -> dict:
    cmd = ["wrk", f"-t{opts.threads}", f"-c{opts.connections}", f"-d{max(1, round(duration))}s"]
    cmd += ["--timeout=5s", "-s", str(BENCH_DIR / "report.lua")]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 40)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from exc
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise BenchError(f"wrk printed no result (exit {proc.returncode}):\n{proc.stdout}")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - loopback
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:  # 304 arrives as an "error"
        return exc.code, dict(exc.headers), exc.read()


def plan_rows(base: str, slug: str) -> list[Row]:
    """The URLs, their ETags and a cursor, read from a running server."""
    status, headers, body = fetch(base + LIST)
    if status != 200:
        raise BenchError(f"GET {LIST} answered {status}")
    cursor = json.loads(body)["next_cursor"]
    if not cursor:
        raise BenchError("the first page has no next_cursor; seed more products")
    paths = {
        "products (first page)": LIST,
        "products?cursor= (page 2)": f"{LIST}?cursor={urllib.parse.quote(cursor)}",
        "products/<slug>": f"{LIST}/{slug}",
    }
    rows = [Row("hello (bare Flask) /", "/", server="hello"), Row("healthz", "/healthz")]
    for name, path in paths.items():
        status, headers, _ = fetch(base + path)
        etag = headers.get("ETag")
        if status != 200 or not etag:
            raise BenchError(f"GET {path} answered {status} without an ETag")
        if fetch(base + path, {"If-None-Match": etag})[0] != 304:
            raise BenchError(f"GET {path} with If-None-Match did not answer 304")
        rows.append(Row(name, path))
        rows.append(Row(f"{name} 304", path, headers={"If-None-Match": etag}, expect=304))
    return rows


def measure(row: Row, backend, opts: argparse.Namespace, log: Path) -> None:
    """On a fresh server; again (at most ``--retries`` times) while other programs used
    ``--max-other`` of the CPUs or more, keeping the least disturbed attempt."""
    env = dict(backend.env)
    app = "bench.hello_app:app" if row.server == "hello" else "wsgi:app"
    if row.server == "app+limits":
        env.update(
            RATELIMIT_ENABLED="true", API_RATELIMIT=HUGE_QUOTA, API_RATELIMIT_PER_IP=HUGE_QUOTA
        )
    attempts: list[tuple[float, dict[str, Any]]] = []
    for _ in range(1 + max(0, opts.retries)):
        with Server(app, env, opts, log) as server:
            url = server.base_url + row.path
            status = fetch(url, row.headers)[0]
            if status != row.expect:
                raise BenchError(f"{row.name}: expected {row.expect}, got {status}")
            run_wrk(url, row.headers, opts.warmup, opts)
            with OtherCpu(server.proc.pid if server.proc else None) as other:
                result = run_wrk(url, row.headers, opts.duration, opts)
        attempts.append((other.share, result))
        print(
            f"  {row.name:<40} {result['rps']:6.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
            f"p99 {result['p99_ms']:6.1f} ms  (other programs {other.share:.0%})",
            flush=True,
        )
        if other.share < opts.max_other:
            break
    row.other_cpu, row.result = min(attempts, key=lambda a: a[0])


def run_backend(backend, opts: argparse.Namespace, tmp: Path) -> list[Row]:
    print(f"\n== {backend.name}: migrate and seed {opts.products:,} products", flush=True)
    flask_cli(["db", "upgrade"], backend.env, timeout=600)
    flask_cli(
        ["shop", "seed", "--products", str(opts.products), "--images", "0"],
        backend.env,
        timeout=3600,
    )
    slug = pick_product_slug(backend.db_url, opts.products)
    log = tmp / "gunicorn.log"
    with Server("wsgi:app", backend.env, opts, log) as server:
        rows = plan_rows(server.base_url, slug)
    if opts.limits_rows:
        for row in [r for r in rows if r.name.startswith("products/<slug>")]:
            rows.append(
                Row(
                    f"{row.name} (rate limits on)",
                    row.path,
                    server="app+limits",
                    headers=row.headers,
                    expect=row.expect,
                )
            )
    print(
        f"== {backend.name}: wrk -t{opts.threads} -c{opts.connections}, {opts.warmup:g}s warm-up "
        f"+ {opts.duration:g}s per row, a fresh server per row",
        flush=True,
    )
    for row in rows:
        measure(row, backend, opts, log)
    return rows


def print_table(backend: str, rows: list[Row], opts: argparse.Namespace) -> None:
    hello = rows[0].result["rps"]
    print(
        f"\nbench.api [{backend}] {opts.products:,} products, gunicorn {opts.workers} sync "
        f"workers, wrk -t{opts.threads} -c{opts.connections}, {opts.duration:g}s per row"
    )
    print(
        f"{'':44s} {'req/s':>8s} {'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} "
        f"{'errors':>6s} {'/hello':>7s} {'other':>6s}"
    )
    for row in rows:
        r = row.result
        errors = sum(r["errors"].values())
        print(
            f"{row.name:44s} {r['rps']:8.0f} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} "
            f"{r['p99_ms']:7.1f} {errors:6d} {r['rps'] / hello:7.0%} {row.other_cpu:6.0%}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    p.add_argument("--products", type=int, default=3000, help="products to seed [3000]")
    p.add_argument("--duration", type=float, default=5, help="seconds measured per row [5]")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per row [2]")
    p.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    p.add_argument("--threads", type=int, default=2, help="wrk threads [2]")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers [2]")
    p.add_argument("--backends", default="sqlite", help="sqlite and/or postgres [sqlite]")
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help="measure a row again while other programs use --max-other of the CPUs [2]",
    )
    p.add_argument("--max-other", type=float, default=0.10, help="see --retries [0.10]")
    p.add_argument(
        "--no-limits-rows",
        dest="limits_rows",
        action="store_false",
        help="skip the product-detail rows with rate limits on",
    )
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="server to create the database on")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis db to use (flushed!)")
    opts = p.parse_args(argv)
    opts.backends = [b.strip() for b in opts.backends.split(",") if b.strip()]
    if not opts.backends or set(opts.backends) - {"sqlite", "postgres"}:
        p.error("--backends takes sqlite and/or postgres")
    if opts.duration <= 0 or opts.connections < 1 or opts.threads < 1 or opts.products < 50:
        p.error("--duration, --connections and --threads must be positive, --products >= 50")
    opts.threads = min(opts.threads, opts.connections)
    opts.worker_class, opts.gthreads = "sync", 1
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if shutil.which("wrk") is None or not (BIN / "gunicorn").exists():
        print(
            "bench.api needs wrk (apt-get install wrk) and gunicorn (make install)", file=sys.stderr
        )
        return 2
    opts.no_control_socket = _gunicorn_supports("--no-control-socket")
    sys.path.insert(0, str(ROOT))
    machine = machine_info(opts)
    busy = machine["cpu_busy_at_start"]
    print(
        f"bench.api: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, {machine['gunicorn']}, "
        f"{machine['wrk']}; CPUs busy before starting: "
        + ("unknown" if busy is None else f"{busy:.0%}")
    )
    try:
        for name in opts.backends:
            with tempfile.TemporaryDirectory(prefix=f"shop-api-bench-{name}-") as tmpdir:
                tmp = Path(tmpdir)
                ctx = (
                    sqlite_backend(tmp)
                    if name == "sqlite"
                    else postgres_backend(tmp, opts.pg_url, opts.redis_url)
                )
                with ctx as backend:
                    rows = run_backend(backend, opts, tmp)
                print_table(name, rows, opts)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped and databases removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench.api: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

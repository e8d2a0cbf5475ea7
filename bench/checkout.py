"""Checkout race: ``python -m bench.checkout [--buyers 40] [--units 10] [--backend postgres]``.

Two app instances (gunicorn, 2 workers each) share one database (and Redis on PostgreSQL).
N buyers, spread over both instances, each put the same item in their cart and check out
through the offline payment sandbox at the same moment; there are only M units. Prints
orders placed and paid, units sold, oversold (must be 0) and checkout latency percentiles.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from bench.catalog import (
    HOST,
    PG_ADMIN_URL,
    REDIS_URL,
    ROOT,
    Server,
    _gunicorn_supports,
    flask_cli,
    postgres_backend,
    sqlite_backend,
)

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
DETAILS = {
    "email": "buyer@example.com",
    "shipping_full_name": "Bench Buyer",
    "shipping_line1": "1 Load Street",
    "shipping_city": "Dublin",
    "shipping_postal_code": "D01",
    "shipping_country": "IE",
    "billing": "same",
    "shipping_method": "standard",
}


class Buyer:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[str, str]:
        with self.http.open(self._url(path), timeout=60) as response:
            return response.geturl(), response.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[str, str]:
        body = urllib.parse.urlencode(data).encode()
        with self.http.open(
            urllib.request.Request(self._url(path), data=body), timeout=60
        ) as response:
            return response.geturl(), response.read().decode()

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def token(self, path: str) -> str:
        return TOKEN.search(self.get(path)[1]).group(1)


def checkout(buyer: Buyer, variant_id: int, barrier: threading.Barrier) -> tuple[str, float]:
    buyer.post(
        "/cart/add",
        {"variant_id": str(variant_id), "quantity": "1", "csrf_token": buyer.token("/cart")},
    )
    buyer.post("/checkout", {**DETAILS, "csrf_token": buyer.token("/checkout")})
    token = buyer.token("/checkout/review")
    barrier.wait()  # everyone presses Pay at the same moment
    started = time.perf_counter()
    url, html = buyer.post("/checkout/pay", {"csrf_token": token, "accept_terms": "y"})
    if "/sandbox/checkout/" not in url:
        return "refused", time.perf_counter() - started
    pay_url = url.rstrip("/") + "/pay"
    url, html = buyer.post(pay_url, {"csrf_token": TOKEN.search(html).group(1)})
    outcome = "paid" if "Thank you for your order" in html else "unpaid"
    return outcome, time.perf_counter() - started


def run(backend, opts: argparse.Namespace, tmp: Path) -> None:
    env = dict(backend.env, PAYMENT_PROVIDER="sandbox", HUEY_IMMEDIATE="1")
    flask_cli(["db", "upgrade"], env, timeout=300)
    flask_cli(["shop", "seed", "--products", "200", "--images", "0"], env, timeout=300)
    engine = sa.create_engine(backend.db_url)
    with engine.begin() as conn:
        variant_id = conn.execute(
            sa.text(
                "SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id "
                "WHERE p.status = 'published' AND (SELECT count(*) FROM variants w "
                "WHERE w.product_id = p.id) = 1 ORDER BY v.id LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE variants SET stock_on_hand = :m, reserved = 0 WHERE id = :v"),
            {"m": opts.units, "v": variant_id},
        )
    with (
        Server("wsgi:app", env, opts, tmp / "a.log") as first,
        Server("wsgi:app", env, opts, tmp / "b.log") as second,
    ):
        if True:
            bases = [f"http://{HOST}:{first.port}", f"http://{HOST}:{second.port}"]
            barrier = threading.Barrier(opts.buyers)
            results: list[tuple[str, float]] = [("error", 0.0)] * opts.buyers

            def one(i: int) -> None:
                try:
                    results[i] = checkout(Buyer(bases[i % 2]), variant_id, barrier)
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    results[i] = (f"error: {type(exc).__name__}: {exc}"[:200], 0.0)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(opts.buyers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
    with engine.connect() as conn:
        on_hand, reserved = conn.execute(
            sa.text("SELECT stock_on_hand, reserved FROM variants WHERE id = :v"), {"v": variant_id}
        ).one()
        sold = conn.execute(
            sa.text(
                "SELECT coalesce(-sum(on_hand_delta), 0) FROM stock_movements "
                "WHERE variant_id = :v AND reason = 'sale'"
            ),
            {"v": variant_id},
        ).scalar_one()
        paid_orders = conn.execute(
            sa.text("SELECT count(*) FROM orders WHERE status = 'paid'")
        ).scalar_one()
    engine.dispose()
    outcomes = [r[0] for r in results]
    latencies = sorted(r[1] * 1000 for r in results if r[0] == "paid")
    print(
        f"\nbench.checkout [{backend.name}] 2 app instances x {opts.workers} workers, "
        f"{opts.buyers} buyers racing for {opts.units} units"
    )
    paid, refused = outcomes.count("paid"), outcomes.count("refused")
    other = len(outcomes) - paid - refused
    print(f"  paid checkouts: {paid}   refused (sold out): {refused}   other: {other}")
    print(
        f"  orders paid in the database: {paid_orders}   units sold: {sold}   "
        f"stock left: {on_hand} (reserved {reserved})   oversold: {max(0, sold - opts.units)}"
    )
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"  checkout latency (pay → confirmation), ms: p50 {statistics.median(latencies):.0f}"
            f"   p95 {p95:.0f}   max {latencies[-1]:.0f}"
        )
    errors = [o for o in outcomes if o.startswith("error")]
    if errors:
        print(f"  errors: {sorted(set(errors))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=40)
    parser.add_argument("--units", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    opts = parser.parse_args(argv)
    opts.worker_class, opts.gthreads = "sync", 1
    opts.no_control_socket = _gunicorn_supports("--no-control-socket")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="shop-checkout-bench-") as tmpdir:
        tmp = Path(tmpdir)
        ctx = (
            postgres_backend(tmp, PG_ADMIN_URL, REDIS_URL)
            if opts.backend == "postgres"
            else sqlite_backend(tmp)
        )
        with ctx as backend:
            run(backend, opts, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

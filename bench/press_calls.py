"""Work per request of the Pay burst: ``python -m bench.press_calls [--backend sqlite]``.

The burst's p95 is its CPU (bench.checkout: four workers, PostgreSQL and 200 client threads
on two cores), and CPU time on a shared virtual machine moves by a quarter from one run to
the next. The number of Python function calls a request makes does not, so this counts them:
one app in this process (as a gunicorn worker loads it, ``wsgi.py``'s collector settings
included), buyers one after another, each with the item in a cart and the checkout details
given, pressing Pay for an item of ``--units``; each then opens the page the press led to
(the payment page, or the cart saying the item sold out), as in the burst. cProfile counts
the calls inside the app (``app.wsgi_app``), per kind of request; statements are counted by
SQLAlchemy's events. Prints calls, statements and CPU ms per request of each kind, the share
of the burst's app work each kind is, and (``--top N``) the functions with most own calls.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.catalog import ROOT, flask_cli, one_backend
from bench.checkout import DETAILS, TOKEN


class Counted:
    """``app.wsgi_app`` wrapped: each request runs under a profiler of its own, and the calls,
    statements and CPU time it took are kept in ``last`` for the caller to file by kind."""

    def __init__(self, app: Any, *, plain: bool) -> None:
        self.inner, self.plain = app.wsgi_app, plain
        self.on = False
        self.statements = 0
        self.last: tuple[cProfile.Profile | None, int, float] | None = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if not self.on:
            return self.inner(environ, start_response)
        profile = None if self.plain else cProfile.Profile(time.process_time)
        before, started = self.statements, time.process_time()
        if profile is not None:
            profile.enable()
        try:
            return self.inner(environ, start_response)
        finally:
            if profile is not None:
                profile.disable()
            self.last = (profile, self.statements - before, time.process_time() - started)


class Tally:
    def __init__(self) -> None:
        self.requests: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self.statements: dict[str, int] = defaultdict(int)
        self.cpu: dict[str, float] = defaultdict(float)
        self.stats: dict[str, pstats.Stats] = {}

    def add(self, kind: str, measured: tuple[cProfile.Profile | None, int, float] | None) -> None:
        assert measured is not None
        profile, statements, cpu = measured
        self.requests[kind] += 1
        self.statements[kind] += statements
        self.cpu[kind] += cpu
        if profile is None:
            return
        stats = pstats.Stats(profile)
        self.calls[kind] += stats.total_calls  # type: ignore[attr-defined]
        if kind in self.stats:
            self.stats[kind].add(stats)
        else:
            self.stats[kind] = stats


def _token(client: Any, path: str) -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _ready_buyer(app: Any, variant_id: int) -> tuple[Any, str]:
    """A visitor with one unit of ``variant_id`` in the cart and the details given, on the
    review page: the client and the Pay form's token."""
    client = app.test_client()
    added = client.post(
        "/cart/add",
        data={"variant_id": variant_id, "quantity": "1", "csrf_token": _token(client, "/cart")},
    )
    assert added.status_code in (302, 303), added.status_code
    given = client.post("/checkout", data={**DETAILS, "csrf_token": _token(client, "/checkout")})
    assert given.status_code in (302, 303), given.get_data(as_text=True)[:300]
    return client, _token(client, "/checkout/review")


def _press(client: Any, token: str) -> Any:
    return client.post("/checkout/pay", data={"csrf_token": token, "accept_terms": "y"})


def run(env: dict[str, str], opts: argparse.Namespace) -> None:
    import sqlalchemy as sa

    flask_cli(["db", "upgrade"], env, timeout=300)
    flask_cli(["shop", "seed", "--products", "50", "--images", "0"], env, timeout=300)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from app.extensions import db  # noqa: PLC0415
    from wsgi import app  # noqa: PLC0415 - after the environment names the database

    with app.app_context():  # not around the requests: they would share its ``g``
        engine = db.engine
    with engine.begin() as conn:
        ids = (
            conn.execute(
                sa.text(
                    "SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id "
                    "WHERE p.status = 'published' AND (SELECT count(*) FROM variants w "
                    "WHERE w.product_id = p.id) = 1 ORDER BY v.id LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
        sale, warm = ids
        for variant, units in ((sale, opts.units), (warm, 100_000)):
            conn.execute(
                sa.text("UPDATE variants SET stock_on_hand = :m, reserved = 0 WHERE id = :v"),
                {"m": units, "v": variant},
            )
    counted = Counted(app, plain=opts.plain)
    app.wsgi_app = counted  # type: ignore[method-assign]

    said: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        counted.statements += 1
        if counted.on and opts.statements:
            said.append(" ".join(statement.split())[:240])

    sa.event.listen(engine, "before_cursor_execute", count)
    for _ in range(opts.warmup):  # compiled statements and templates, as in an open shop
        client, token = _ready_buyer(app, warm)
        pressed = _press(client, token)
        client.get(pressed.headers["Location"])
    buyers = [_ready_buyer(app, sale) for _ in range(opts.buyers)]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))  # as bench.checkout does before its clock
    tally = Tally()
    counted.on = True
    for client, token in buyers:
        pressed = _press(client, token)
        location = pressed.headers.get("Location", "")
        paid = "/sandbox/checkout/" in location
        if pressed.status_code != 303 or not (paid or location.endswith("/cart")):
            raise SystemExit(f"a press was answered {pressed.status_code} {location!r}")
        kind = "press, paid" if paid else "press, refused"
        if opts.statements and tally.requests.get(kind, 0) == 1:  # the second of its kind
            print(f"\n--- the statements of one {kind}:", *said, sep="\n  ")
        said.clear()
        tally.add(kind, counted.last)
        client.get(location)
        said.clear()
        tally.add("payment page" if paid else "cart page, sold out", counted.last)
    counted.on = False
    engine.dispose()
    _report(tally, opts, engine.dialect.name)


def _report(tally: Tally, opts: argparse.Namespace, backend: str) -> None:
    """Per kind: calls each and share of all calls (profiled), or CPU share (``--plain``)."""
    measure = tally.cpu if opts.plain else tally.calls
    total = sum(measure.values()) or 1
    print(
        f"\nbench.press_calls [{backend}] {opts.buyers} buyers one after another for "
        f"{opts.units} units, each press then the page it led to (after {opts.warmup} warm-up "
        "checkouts)"
    )
    calls = "" if opts.plain else f"{'calls each':>12}"
    cpu = "CPU ms" if opts.plain else "CPU ms*"
    print(f"  {'request':<22}{'n':>5}{calls}{'statements':>12}{cpu:>9}{'share':>8}")
    for kind in ("press, paid", "press, refused", "payment page", "cart page, sold out"):
        n = tally.requests.get(kind, 0)
        if not n:
            continue
        each = "" if opts.plain else f"{tally.calls[kind] / n:>12,.0f}"
        print(
            f"  {kind:<22}{n:>5}{each}"
            f"{tally.statements[kind] / n:>12.1f}{tally.cpu[kind] / n * 1000:>9.2f}"
            f"{measure[kind] / total:>8.0%}"
        )
    if opts.plain:
        print(f"  all {sum(tally.requests.values())} requests: {total * 1000:,.0f} CPU ms")
    else:
        print(f"  all {sum(tally.requests.values())} requests: {total:,} calls")
        print("  * under the profiler, which slows Python calls: compare calls, not these")
    if opts.top and not opts.plain:
        for kind, stats in tally.stats.items():
            print(f"\n--- {kind}: functions by {opts.sort}")
            stats.sort_stats(opts.sort).print_stats(opts.top)
            if opts.callees:
                stats.print_callees(opts.callees)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=80)
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--top", type=int, default=0, help="list the N functions with most calls")
    parser.add_argument(
        "--plain", action="store_true", help="no profiler: CPU ms as a worker spends them"
    )
    parser.add_argument(
        "--statements", action="store_true", help="list the SQL of a paid and a refused press"
    )
    parser.add_argument("--callees", default="", help="with --top: callees of matching functions")
    parser.add_argument("--sort", default="ncalls", help="pstats order for --top [ncalls]")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shop-press-calls-") as tmpdir:
        tmp = Path(tmpdir)
        with one_backend(opts.backend, tmp) as backend:
            env = dict(backend.env, PAYMENT_PROVIDER="sandbox")
            run(env, opts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Checkout race: ``python -m bench.checkout [--buyers 200] [--units 50] [--backend postgres]``.

Two app instances (gunicorn, 2 workers each) share one database (and Redis on PostgreSQL),
with one Huey consumer beside them, as production runs (deploy/, scripts/production-recipe.sh):
notifications and webhook processing are queued, not done inside the shopper's request.
N buyers, spread over both instances, each put the same item in their cart and check out
through the offline payment sandbox at the same moment; there are only M units. Prints
orders placed and paid, units sold, oversold (must be 0), and two latencies:

* **the press**: POST /checkout/pay until its answer (the redirect to the payment page, or
  "sold out" back to the cart), for every buyer: what the shop itself makes a buyer wait;
* **pay → confirmation**: from the press to the "Thank you" page, for the buyers who paid,
  through the sandbox's hosted page (Stripe's servers, in production, not the shop's).
"""

from __future__ import annotations

import argparse
import email.parser
import http.client
import http.cookiejar
import os
import re
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bench.catalog import (
    BIN,
    HOST,
    ROOT,
    BenchError,
    Server,
    _gunicorn_supports,
    flask_cli,
    one_backend,
    run_wrk,
)

# Where issue 22 set the burst's target (p95 under 1 s): a bare Flask app under gunicorn with
# 2 sync workers served 7,095 req/s on that machine (and /healthz 4,219).
REFERENCE_BARE_FLASK = 7_095
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


class _Answer:
    """What a cookie jar reads of a response: its headers."""

    def __init__(self, headers: http.client.HTTPMessage) -> None:
        self.headers = headers

    def info(self) -> http.client.HTTPMessage:
        return self.headers


class _Stay(urllib.request.HTTPRedirectHandler):
    """Hand a redirect back as it is (to time a single request)."""

    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


@dataclass
class Press:
    """One buyer's POST as bytes, and what came back (set by :func:`press_all`)."""

    raw: bytes
    address: tuple[str, int]
    request: urllib.request.Request  # for the cookie jar, which reads its URL
    status: int = 0
    location: str = ""
    header_text: str = ""
    error: str = ""
    started: float = 0.0
    answered: float = 0.0

    def take(self, answer: bytes) -> None:
        head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
        status_line, _, header_text = head.partition("\r\n")
        status = re.fullmatch(r"HTTP/1\.[01] (\d{3})( .*)?", status_line)
        if status is None:
            self.error = f"not an HTTP answer to the press: {head[:200]!r}"
            return
        self.status = int(status.group(1))
        location = re.search(r"^Location: *(.*)$", header_text, re.IGNORECASE | re.MULTILINE)
        self.location = location.group(1).strip() if location else ""
        self.header_text = header_text


def press_all(presses: list[Press], timeout: float = 120.0) -> None:
    """Every press written at once, from this one thread, and each answer read as it comes
    (the server closes the connection after it). Buyers press on their own devices: 200
    threads waking to send and to read took a tenth of the shop's two cores in the window,
    a selector on non-blocking sockets takes a few milliseconds. A press whose connection
    or answer failed keeps the reason in ``error``."""
    selector = selectors.DefaultSelector()
    unsent: dict[int, memoryview] = {}
    chunks: dict[int, list[bytes]] = {}

    def finish(connection: socket.socket, index: int, error: str = "") -> None:
        press = presses[index]
        press.answered = time.perf_counter()
        selector.unregister(connection)
        connection.close()
        if error:
            press.error = error
        else:
            press.take(b"".join(chunks[index]))

    try:
        for index, press in enumerate(presses):
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connection.setblocking(False)
            press.started = time.perf_counter()  # the buyer presses: a connection is opened
            connection.connect_ex(press.address)  # its outcome: when it is writable
            unsent[index], chunks[index] = memoryview(press.raw), []
            selector.register(connection, selectors.EVENT_WRITE, index)
        deadline = time.perf_counter() + timeout
        while selector.get_map() and time.perf_counter() < deadline:
            for key, events in selector.select(timeout=1.0):
                connection, index = key.fileobj, key.data
                assert isinstance(connection, socket.socket)
                try:
                    if events & selectors.EVENT_WRITE:
                        if failed := connection.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            finish(connection, index, f"connect: {os.strerror(failed)}")
                            continue
                        unsent[index] = unsent[index][connection.send(unsent[index]) :]
                        if not unsent[index]:
                            selector.modify(connection, selectors.EVENT_READ, index)
                        continue
                    chunk = connection.recv(65536)
                except OSError as exc:
                    finish(connection, index, f"{type(exc).__name__}: {exc}")
                    continue
                if chunk:
                    chunks[index].append(chunk)
                else:
                    finish(connection, index)
    finally:
        for key in list(selector.get_map().values()):
            presses[key.data].error = presses[key.data].error or "no answer in time"
            selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()


class Buyer:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        cookies = urllib.request.HTTPCookieProcessor(self.jar)
        self.http = urllib.request.build_opener(cookies)
        self.once = urllib.request.build_opener(cookies, _Stay())

    def post_once(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        """The status and Location of one POST, its redirect not followed."""
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self._url(path), data=body)
        try:
            with self.once.open(request, timeout=60) as response:
                return response.status, response.headers.get("Location", "")
        except urllib.error.HTTPError as exc:
            if exc.code in (302, 303):
                return exc.code, exc.headers.get("Location", "")
            raise

    def prepare_post(self, path: str, data: dict[str, str]) -> Press:
        """One POST made ready to send, its redirect not to be followed: the bytes of the
        request, made beforehand, for :func:`press_all` to write on a plain socket. Only the
        answer's status line and Location are read then; the cookies it sets are taken by
        :meth:`keep_cookies` later. (With http.client, 200 threads parsing headers through
        the email package and a cookie jar were a tenth of this machine's CPU while the
        presses were answered: a load on the shop's two cores that buyers' own devices
        carry.)"""
        url = self._url(path)
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=body)
        self.jar.add_cookie_header(request)
        parts = urllib.parse.urlsplit(url)
        lines = [
            f"POST {parts.path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        cookie = request.unredirected_hdrs.get("Cookie")  # the one header the jar adds
        if cookie:
            lines.append(f"Cookie: {cookie}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        return Press(raw, (str(parts.hostname), int(parts.port or 80)), request)

    def keep_cookies(self, press: Press) -> None:
        """The cookies the answer to ``press`` set, into the jar."""
        headers = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(press.header_text)
        self.jar.extract_cookies(_Answer(headers), press.request)  # type: ignore[arg-type]

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


@dataclass
class Outcome:
    kind: str  # paid | refused | unpaid | error: ...
    press: float = 0.0  # seconds: POST /checkout/pay until its answer
    confirm: float = 0.0  # seconds: the card submitted until the confirmation page
    answered: float = 0.0  # perf_counter when the press was answered


def checkout(
    buyer: Buyer,
    variant_id: int,
    barrier: threading.Barrier,
    think: float,
    presses: list[Press | None],
    index: int,
    all_answered: threading.Event,
) -> Outcome:
    """One buyer: the item in the cart, the details given, the review page's token; the
    press of Pay made ready as ``presses[index]``. Once every buyer has got that far, the
    barrier's action sends them all (:func:`press_all`) and sets ``all_answered``; only then
    is the page the press led to asked for: the shop serves those after the presses anyway
    (its workers take connections in the order they came; 0-3 of 200 were served before the
    last press was answered when each buyer asked at once), and the client's own work on
    them would otherwise share the two cores with the presses."""
    buyer.post(
        "/cart/add",
        {"variant_id": str(variant_id), "quantity": "1", "csrf_token": buyer.token("/cart")},
    )
    buyer.post("/checkout", {**DETAILS, "csrf_token": buyer.token("/checkout")})
    token = buyer.token("/checkout/review")
    press = presses[index] = buyer.prepare_post(
        "/checkout/pay", {"csrf_token": token, "accept_terms": "y"}
    )
    barrier.wait()  # everyone presses Pay at the same moment
    all_answered.wait(timeout=300)
    if press.error or not press.answered:
        raise BenchError(press.error or "the press was not sent")
    took = press.answered - press.started
    buyer.keep_cookies(press)
    url, html = buyer.get(press.location)  # the payment page, or the cart saying what ran out
    if press.status != 303 or "/sandbox/checkout/" not in url:
        return Outcome("refused", took, answered=press.answered)
    time.sleep(think)  # typing the card's details on the payment page
    submitted = time.perf_counter()
    url, html = buyer.post(url.rstrip("/") + "/pay", {"csrf_token": TOKEN.search(html).group(1)})
    kind = "paid" if "Thank you for your order" in html else "unpaid"
    return Outcome(kind, took, time.perf_counter() - submitted, press.answered)


def cpu_probe() -> float:
    """CPU seconds a fixed pure-Python loop takes right now (lower: a quicker machine). A
    shared virtual machine runs the same work at speeds up to twice apart from one second
    to the next (seen here: 0.14-0.50 s), so a run is read against the probes beside it."""
    started = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i * i
    return time.process_time() - started


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by the processes on this machine, by program (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            data = stat.read_text()
        except OSError:
            continue
        name = data[data.index("(") + 1 : data.rindex(")")]
        fields = data[data.rindex(")") + 2 :].split()
        if int(stat.parent.name) == os.getpid():
            name = "bench client"
        else:
            name = next((n for n in PROGRAMS if n in name), "other")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    # Time the hypervisor gave this machine's CPUs to someone else (a virtual machine's
    # "steal"): a run with much of it measured a slower machine.
    with open("/proc/stat") as stat_file:
        out["steal (other VMs)"] = int(stat_file.readline().split()[8]) / tick
    return out


PROGRAMS = ("gunicorn", "postgres", "huey", "redis")


class Consumer:
    """One Huey consumer (2 threads, ``nice``), as the production recipe runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log_path = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Consumer:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                # nice, as the README's production recipe runs it beside gunicorn
                ["nice", "-n", "10", str(BIN / "huey_consumer"), "tasks.huey"]
                + ["--workers", "2", "-k", "thread"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):.0f}   p95 {_p95(ms):.0f}   max {max(ms):.0f}"


def run(backend, opts: argparse.Namespace, tmp: Path) -> None:
    env = dict(backend.env, PAYMENT_PROVIDER="sandbox")
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
        # Another item, plenty of it, for the warm-up presses.
        warm_id = conn.execute(
            sa.text(
                "SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id "
                "WHERE p.status = 'published' AND v.id <> :v ORDER BY v.id LIMIT 1"
            ),
            {"v": variant_id},
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE variants SET stock_on_hand = 100000, reserved = 0 WHERE id = :v"),
            {"v": warm_id},
        )
    # How fast this machine is right now: a bare Flask app under the same gunicorn, and then
    # the shop's own /healthz, just before the burst (machines, and one machine from one hour
    # to the next, differ by more than any change to the shop: compare runs by these).
    with Server("bench.hello_app:app", env, opts, tmp / "hello.log") as hello:
        bare = _requests_per_second(hello.base_url + "/")
    with (
        Consumer(env, tmp / "huey.log"),
        Server("wsgi:app", env, opts, tmp / "a.log") as first,
        Server("wsgi:app", env, opts, tmp / "b.log") as second,
    ):
        bases = [f"http://{HOST}:{first.port}", f"http://{HOST}:{second.port}"]
        healthz = _requests_per_second(bases[0] + "/healthz")
        # Instances that have served shoppers before, as in a shop that was open before its
        # sale started: every worker has placed orders. SQLAlchemy compiles a statement the
        # first time a process runs it; psycopg prepares it on a connection at its sixth
        # run there, and PostgreSQL plans a prepared statement anew for its first five
        # runs before it settles on one plan (the cart's locked read: ~1.4 ms of the
        # database's CPU a time while it plans, on a 2-core machine). Each worker needs
        # ten or more presses for that, and the four workers do not share the warm-up
        # presses evenly, so there are many of them.
        _warm_up(bases, warm_id, opts.warmup)
        with engine.connect() as conn:
            ids_before = _order_ids(conn, backend.name)
        probes = [cpu_probe()]
        snapshot: dict[str, object] = {}
        presses: list[Press | None] = [None] * opts.buyers
        all_answered = threading.Event()

        def pressing() -> None:  # run by one buyer once all of them are ready to press Pay
            try:
                _analyze(engine, backend.name)
                snapshot["cpu"], snapshot["at"] = cpu_seconds(), time.perf_counter()
                press_all([press for press in presses if press is not None])
                snapshot["during"] = cpu_seconds()
            finally:
                all_answered.set()

        barrier = threading.Barrier(opts.buyers, action=pressing)
        results: list[Outcome] = [Outcome("error")] * opts.buyers

        def one(i: int) -> None:
            try:
                think = opts.think * (1 + (i % 10) / 10)  # nobody types at one speed
                buyer = Buyer(bases[i % 2])
                results[i] = checkout(buyer, variant_id, barrier, think, presses, i, all_answered)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                results[i] = Outcome(f"error: {type(exc).__name__}: {exc}"[:200])
                if presses[i] is None:  # never got to press: nobody may wait for it
                    barrier.abort()
                    all_answered.set()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(opts.buyers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        probes.append(cpu_probe())
        drained = _wait_for_mail(engine, opts.units, timeout=60)
    during = snapshot.get("during", {})
    before = snapshot.get("cpu", during)
    assert isinstance(before, dict) and isinstance(during, dict)
    pressed_at = float(snapshot.get("at", 0.0))  # type: ignore[arg-type]
    answers = [p.answered for p in presses if p is not None and p.answered and not p.error]
    window = (max(answers) - pressed_at) if answers and pressed_at else 0.0
    cpu = {k: during.get(k, 0.0) - before.get(k, 0.0) for k in during}
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
        ids_after = _order_ids(conn, backend.name)
    engine.dispose()
    kinds = [r.kind for r in results]
    print(
        f"\nbench.checkout [{backend.name}] 2 app instances x {opts.workers} workers + 1 Huey "
        f"consumer, {opts.buyers} buyers racing for {opts.units} units"
    )
    paid, refused = kinds.count("paid"), kinds.count("refused")
    other = len(kinds) - paid - refused
    print(f"  paid checkouts: {paid}   refused (sold out): {refused}   other: {other}")
    print(
        f"  orders paid in the database: {paid_orders}   units sold: {sold}   "
        f"stock left: {on_hand} (reserved {reserved})   oversold: {max(0, sold - opts.units)}"
    )
    if ids_before is not None and ids_after is not None:
        taken, kept = ids_after[0] - ids_before[0], ids_after[1] - ids_before[1]
        print(f"  orders written and rolled back in the burst: {taken - kept}")
    pressed = [r for r in results if not r.kind.startswith("error")]
    rows = [
        (f"the press (Pay until its answer), all {len(pressed)}", [r.press for r in pressed]),
        ("  of those who got to pay", [r.press for r in pressed if r.kind == "paid"]),
        ("  of those told it sold out", [r.press for r in pressed if r.kind == "refused"]),
        ("card submitted → confirmation", [r.confirm for r in pressed if r.kind == "paid"]),
    ]
    for label, values in rows:
        print(f"  {label + ', ms:':<46}{_percentiles(values)}")
    print(
        f"  order e-mails sent by the consumer: {drained[0]} in {drained[1]:.1f} s after the burst"
    )
    print(
        f"  this machine before the burst: /healthz {healthz:,.0f} req/s on one instance, a "
        f"bare Flask app {bare:,.0f} (wrk -c8, 3 s; /healthz {healthz / bare:.2f}x bare Flask)"
    )
    if pressed:
        scaled = _p95([r.press for r in pressed]) * 1000 * bare / REFERENCE_BARE_FLASK
        print(
            f"  the press's p95 scaled to issue 22's machine by bare Flask's req/s "
            f"({bare:,.0f} here, {REFERENCE_BARE_FLASK:,} there): {scaled:.0f} ms"
        )
    print(
        f"  CPU probe (a fixed loop, lower is a quicker machine): "
        f"{probes[0]:.2f} s before the burst, {probes[1]:.2f} s after"
    )
    busy = sorted(((v, k) for k, v in cpu.items() if v >= 0.01), reverse=True)
    print(
        f"  CPU seconds while the presses were answered ({window:.2f} s on "
        f"{os.cpu_count()} cores): " + ", ".join(f"{k} {v:.2f}" for v, k in busy)
    )
    errors = [k for k in kinds if k.startswith("error")]
    if errors:
        print(f"  errors: {sorted(set(errors))}")


def _requests_per_second(url: str) -> float:
    return float(
        run_wrk(
            url, script="report.lua", args=[], duration=3, connections=8, threads=2, timeout_s=5
        )["rps"]
    )


def _order_ids(conn: sa.Connection, backend: str) -> tuple[int, int] | None:
    """PostgreSQL: (order ids the sequence has given out, orders kept). A transaction that
    rolls back never gives its id back, so across the burst the difference counts the
    presses that wrote an order and then found the stock gone."""
    if backend != "postgres":
        return None
    given, kept = conn.execute(
        sa.text(
            "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('orders', 'id')), 0),"
            " count(*) FROM orders"
        )
    ).one()
    return int(given), int(kept)


def _analyze(engine: sa.Engine, backend: str) -> None:
    """Planner statistics as a shop that was open before its sale has them, taken once every
    buyer has a cart (before the clock starts). The seed's own ANALYZE ran with no orders or
    carts yet: on PostgreSQL, the statement that reads a cart with its own reservations was
    then planned as a scan of the item's order lines times a scan of all orders (quadratic in
    the orders of the sale: 1.3 ms a press after 50 orders, 20 ms after 200, in a sequential
    probe), until autovacuum happened to analyse the tables, at a moment that differed from
    run to run."""
    if backend != "postgres":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))


def _warm_up(bases: list[str], variant_id: int, presses: int) -> None:
    """``presses`` buyers (a few at a time, on both instances) press Pay for ``variant_id``."""

    def one(i: int) -> None:
        buyer = Buyer(bases[i % len(bases)])
        buyer.post(
            "/cart/add",
            {"variant_id": str(variant_id), "quantity": "1", "csrf_token": buyer.token("/cart")},
        )
        buyer.post("/checkout", {**DETAILS, "csrf_token": buyer.token("/checkout")})
        token = buyer.token("/checkout/review")
        status, _ = buyer.post_once("/checkout/pay", {"csrf_token": token, "accept_terms": "y"})
        if status != 303:
            raise BenchError(f"a warm-up press was answered {status}")

    failed: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            one(i)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the bench's thread
            failed.append(exc)

    for start in range(0, presses, 4):  # four at a time: every worker gets some
        batch = [
            threading.Thread(target=guarded, args=(i,))
            for i in range(start, min(presses, start + 4))
        ]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    if failed:
        raise BenchError(f"{len(failed)} warm-up presses failed: {failed[0]!r}")


def _wait_for_mail(engine: sa.Engine, expected: int, timeout: float) -> tuple[int, float]:
    """Order confirmations the consumer has sent, waiting until ``expected`` or ``timeout``."""
    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < timeout:
        with engine.connect() as conn:
            sent = conn.execute(
                sa.text(
                    "SELECT count(*) FROM notifications WHERE status = 'sent' "
                    "AND template = 'order-confirmation'"
                )
            ).scalar_one()
        if sent >= expected:
            break
        time.sleep(0.2)
    return sent, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--units", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--think",
        type=float,
        default=2.0,
        help="seconds a buyer spends typing the card on the payment page (1x-1.9x) [2]",
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument(
        "--warmup",
        type=int,
        default=120,
        help="presses for another item before the burst, so every worker has placed "
        "orders before (0: measure cold workers) [120]",
    )
    opts = parser.parse_args(argv)
    opts.worker_class, opts.gthreads = "sync", 1
    opts.no_control_socket = _gunicorn_supports("--no-control-socket")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="shop-checkout-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with one_backend(opts.backend, tmp) as backend:
            run(backend, opts, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

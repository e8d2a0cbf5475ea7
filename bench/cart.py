"""Cart benchmark: ``python -m bench.cart [--products N] [--duration S] [--backends ...]``.

Seeds a catalog, serves the shop with gunicorn, prepares one shopper session per connection
(each with a few lines in its cart), then drives ``GET /cart`` and htmx ``POST /cart/add``
with wrk on loopback, next to the app's ``/healthz`` and a bare Flask app in the same run.
Reuses the catalog benchmark's servers and wrk plumbing (bench/catalog.py).

Then the basket flow of ``--shoppers`` fresh shoppers, one after another (no queueing), each
on one keep-alive connection as a browser would: GET a product page (no cookie yet), POST
"Add to cart" with the page's token (no JavaScript: a 303), GET the cart. It prints the
flow's p50 and p95 and, for scale, ``/healthz`` fetched the same way.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.catalog import (
    BIN,
    HOST,
    ROOT,
    Server,
    _gunicorn_supports,
    flask_cli,
    one_backend,
    run_wrk,
)

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
VARIANT = re.compile(r'name="variant_id" value="(\d+)"')
PRODUCT_LINK = re.compile(r'href="(/products/[^"?]+)" class="product-card-link"')
CARD = re.compile(r'<form class="card-add".*?</form>', re.S)


def _single_variant_products(base: str, count: int) -> list[str]:
    """Product pages whose one variant can be added (their card has the add form)."""
    html = urllib.request.urlopen(f"{base}/products?in_stock=1&per_page=96", timeout=30)
    text = html.read().decode()
    paths = []
    for card in re.split(r'<article class="product-card">', text)[1:]:
        link = PRODUCT_LINK.search(card)
        if link and CARD.search(card):
            paths.append(link.group(1))
    if not paths:
        raise SystemExit("no single-variant product in stock for the basket flow")
    return [paths[n % len(paths)] for n in range(count)]


def basket_flow(base: str, shoppers: int) -> dict:
    """Each fresh shopper's product page → add → cart, timed end to end."""
    import http.client

    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    timings, probe = [], []
    steps: dict[str, list[float]] = {"product page": [], "add": [], "cart page": []}
    for path in _single_variant_products(base, shoppers):
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        started = time.perf_counter()
        conn.request("GET", path)
        page = conn.getresponse()
        html = page.read().decode()
        form = CARD.search(html) or re.search(r'<form[^>]*action="/cart/add".*?</form>', html, re.S)
        if page.status != 200 or form is None:
            raise SystemExit(f"basket flow: no add-to-cart form on {path} ({page.status})")
        fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0)))
        body = urllib.parse.urlencode(
            {"csrf_token": fields["csrf_token"], "variant_id": fields["variant_id"], "quantity": 1}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": base}
        step = time.perf_counter()
        steps["product page"].append((step - started) * 1000)
        conn.request("POST", "/cart/add", body=body, headers=headers)
        added = conn.getresponse()
        added.read()
        cookie = added.getheader("Set-Cookie", "").split(";", 1)[0]
        if added.status != 303 or not cookie:
            raise SystemExit(f"basket flow: add to cart answered {added.status}")
        now = time.perf_counter()
        steps["add"].append((now - step) * 1000)
        step = now
        conn.request("GET", "/cart", headers={"Cookie": cookie})
        cart = conn.getresponse()
        cart_html = cart.read().decode()
        now = time.perf_counter()
        steps["cart page"].append((now - step) * 1000)
        timings.append((now - started) * 1000)
        if cart.status != 200 or 'badge-count">1<' not in cart_html:
            raise SystemExit("basket flow: the cart does not hold the item")
        started = time.perf_counter()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        probe.append((time.perf_counter() - started) * 1000)
        conn.close()
    timings.sort()
    probe.sort()
    return {
        "name": f"basket flow ({shoppers} fresh shoppers)",
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95) - 1],
        "healthz_p50_ms": statistics.median(probe),
        "steps": {name: statistics.median(values) for name, values in steps.items()},
    }


def prepare_sessions(base: str, count: int, lines: int) -> list[str]:
    """Real browser-like shoppers: cookie, CSRF token and a variant, with a filled cart."""
    rows = []
    listing = urllib.request.urlopen(f"{base}/products?in_stock=1&per_page=96", timeout=30)
    variants = VARIANT.findall(listing.read().decode())
    if len(variants) < lines + 1:
        raise SystemExit("not enough single-variant products in stock to fill carts")
    for n in range(count):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        token = TOKEN.search(opener.open(f"{base}/cart", timeout=30).read().decode()).group(1)
        mine = [variants[(n + k) % len(variants)] for k in range(lines + 1)]
        for variant in mine[:lines]:
            body = urllib.parse.urlencode(
                {"variant_id": variant, "quantity": "1", "csrf_token": token}
            ).encode()
            opener.open(urllib.request.Request(f"{base}/cart/add", data=body), timeout=30)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        rows.append(f"{cookie}\t{token}\t{mine[lines]}")
    return rows


def measure(
    name: str,
    url: str,
    opts: argparse.Namespace,
    script: str = "report.lua",
    args: list[str] | None = None,
) -> dict:
    run_wrk(
        url,
        script=script,
        args=args or [],
        duration=2,
        connections=opts.connections,
        threads=opts.threads,
        timeout_s=5,
    )  # warm-up
    result = run_wrk(
        url,
        script=script,
        args=args or [],
        duration=opts.duration,
        connections=opts.connections,
        threads=opts.threads,
        timeout_s=5,
    )
    result["name"] = name
    return result


def run(backend, opts: argparse.Namespace, tmp: Path) -> list[dict]:
    env = dict(backend.env)
    flask_cli(["db", "upgrade"], env, timeout=300)
    flask_cli(["shop", "seed", "--products", str(opts.products), "--images", "0"], env, timeout=900)
    results = []
    with Server("bench.hello_app:app", env, opts, tmp / "hello.log") as hello:
        results.append(measure("hello (bare Flask) /", f"http://{HOST}:{hello.port}/", opts))
    with Server("wsgi:app", env, opts, tmp / "app.log") as app:
        base = f"http://{HOST}:{app.port}"
        sessions = tmp / "sessions.tsv"
        sessions.write_text("\n".join(prepare_sessions(base, opts.connections, 5)) + "\n")
        results.append(measure("healthz", base + "/healthz", opts))
        results.append(
            measure(
                "cart page (5 lines)", base + "/cart", opts, "cart.lua", [str(sessions), "view"]
            )
        )
        results.append(
            measure(
                "add to cart (htmx POST)", base + "/cart", opts, "cart.lua", [str(sessions), "add"]
            )
        )
        # Warm-up: shoppers land on pages others looked at before (each worker's cache and
        # Redis hold them), and every worker has served each kind of request.
        for path in set(_single_variant_products(base, opts.shoppers)):
            for _ in range(4):
                urllib.request.urlopen(base + path, timeout=30).read()
        basket_flow(base, 20)
        opts.flow = basket_flow(base, opts.shoppers)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--shoppers", type=int, default=200)
    opts = parser.parse_args(argv)
    opts.worker_class, opts.gthreads = "sync", 1
    opts.no_control_socket = _gunicorn_supports("--no-control-socket")
    if shutil.which("wrk") is None or not (BIN / "gunicorn").exists():
        print(
            "bench.cart needs wrk (apt-get install wrk) and gunicorn (make install)",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(ROOT))
    for name in opts.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"shop-cart-bench-{name}-") as tmpdir:
            tmp = Path(tmpdir)
            with one_backend(name, tmp) as backend:
                results = run(backend, opts, tmp)
        hello = results[0]["rps"]
        healthz = results[1]["rps"]
        print(
            f"\nbench.cart [{name}] {opts.products:,} products, gunicorn {opts.workers} sync "
            f"workers, wrk -c{opts.connections}"
        )
        print(
            f"{'':28s} {'req/s':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} "
            f"{'errors':>6s} {'/healthz':>9s} {'/hello':>7s}"
        )
        for r in results:
            errors = sum(r["errors"].values())
            print(
                f"{r['name']:28s} {r['rps']:9.0f} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
                f"{r['p99_ms']:8.1f} {errors:6d} {r['rps'] / healthz:8.0%} "
                f"{r['rps'] / hello:7.0%}"
            )
        flow = opts.flow
        print(
            f"{flow['name']}: p50 {flow['p50_ms']:.1f} ms, p95 {flow['p95_ms']:.1f} ms "
            f"(one /healthz on the same connection: p50 {flow['healthz_p50_ms']:.2f} ms; "
            + ", ".join(f"{k} {v:.1f}" for k, v in flow["steps"].items())
            + " ms p50)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

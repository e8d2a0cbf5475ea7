"""A shopper's checkout through the reverse proxy of scripts/production-recipe.sh, and the
checks that the topology behaves as production must. Exit status 0 when everything held.

    python scripts/recipe_checkout.py http://127.0.0.1:8080 /tmp/shopsphere-recipe.XXXX

It reads the outcome the way staff would see it: the confirmation page, /metrics, and the
rows the Huey consumer wrote (DATABASE_URL is the recipe's database).
"""

from __future__ import annotations

import os
import re
import sys
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import sqlalchemy as sa

DETAILS = {
    "email": "recipe@example.com",
    "shipping_full_name": "Ada Lovelace",
    "shipping_line1": "12 Analytical Street",
    "shipping_city": "Dublin",
    "shipping_postal_code": "D02 X285",
    "shipping_country": "IE",
    "billing": "same",
    "shipping_method": "standard",
}


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    if not match:
        raise AssertionError(f"no {name} field on the page")
    return unescape(match.group(1))


def check(condition: object, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"  ok  {what}")


def main(base: str, run_dir: Path) -> None:
    origin = {"Origin": base}
    with httpx.Client(base_url=base, timeout=20) as shop:
        home = shop.get("/")
        check(home.status_code == 200, "the home page answers through nginx")
        check(home.headers.get("server", "").startswith("nginx"), "nginx is in front")
        request_id = home.headers.get("x-request-id", "")
        check(re.fullmatch(r"[0-9a-f]{32}", request_id), "the app keeps nginx's request id")

        try:
            forged = httpx.get(f"{base}/", headers={"Host": "evil.example"}, timeout=5)
            dropped = False
        except httpx.RemoteProtocolError:  # nginx's 444: the connection closed, no answer
            dropped, forged = True, None
        check(dropped, f"a request for another host name is dropped ({forged})")

        css = re.search(r'href="(/static/[^"]+\.css\?v=[0-9a-f]+)"', home.text)
        check(css, "pages link fingerprinted stylesheets")
        sheet = shop.get(unescape(css.group(1)))
        check(
            sheet.status_code == 200
            and sheet.headers.get("cache-control") == "public, max-age=31536000, immutable",
            "nginx serves fingerprinted static files with a year's immutable caching",
        )
        bare = shop.get(urlsplit(unescape(css.group(1))).path)
        check(bare.headers.get("cache-control") == "public, max-age=300", "unversioned: 5 min")

        with httpx.Client(base_url=base, timeout=20) as crawler:  # keeps no cookies
            first, second = crawler.get("/products"), crawler.get("/products")
            again = crawler.get("/products", headers={"If-None-Match": first.headers["etag"]})
        check(
            "set-cookie" not in first.headers and first.headers["etag"] == second.headers["etag"],
            "a cookieless visitor gets no session and one ETag",
        )
        check(again.status_code == 304, "revalidation answers 304")
        check(
            all(len(r.headers.get_list("date")) == 1 for r in (first, again)),
            "one Date header through gunicorn and nginx",
        )

        listing = shop.get("/products")
        form = re.search(r'<form class="card-add".*?</form>', listing.text, re.S)
        check(form, "the listing offers a product to add")
        added = shop.post(
            "/cart/add",
            data={
                "csrf_token": field(form.group(0), "csrf_token"),
                "variant_id": field(form.group(0), "variant_id"),
                "quantity": "1",
            },
            headers=origin,
        )
        check(added.status_code == 303, "added to the cart with the page's token")

        start = shop.get("/checkout")
        details = shop.post(
            "/checkout", data={**DETAILS, "csrf_token": field(start.text, "csrf_token")}
        )
        check(details.status_code == 303, "delivery details accepted")
        review = shop.get("/checkout/review")
        paid = shop.post(
            "/checkout/pay",
            data={"csrf_token": field(review.text, "csrf_token"), "accept_terms": "y"},
        )
        check(paid.status_code == 303, "on to the payment page")
        session_url = urljoin(base, paid.headers["location"])
        check(urlsplit(session_url).netloc == urlsplit(base).netloc, "payment links use the proxy")
        page = shop.get(session_url)
        check("TEST MODE" in page.text, "the sandbox payment page says TEST MODE")
        back = shop.post(f"{session_url}/pay", data={"csrf_token": field(page.text, "csrf_token")})
        check(back.status_code == 303, "paid in the sandbox")
        confirmation = shop.get(back.headers["location"])
        check("Thank you for your order!" in confirmation.text, "the confirmation page thanks")
        number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", confirmation.text)
        check(number, "the confirmation names the order")

        spoofed = shop.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
        check(
            spoofed.status_code == 200,
            "TRUSTED_PROXY_COUNT=1: the client is who nginx says, not a forged header",
        )

    engine = sa.create_engine(os.environ["DATABASE_URL"])
    deadline = time.monotonic() + 30
    with engine.connect() as db:
        while True:
            status, mail = db.execute(
                sa.text(
                    "SELECT o.status, n.status FROM orders o LEFT JOIN notifications n "
                    "ON n.template = 'order-confirmation' AND n.to_address = o.email "
                    "WHERE o.number = :number"
                ),
                {"number": number.group(0)},
            ).one()
            if (status, mail) == ("paid", "sent") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
            db.rollback()
        check(status == "paid", f"order {number.group(0)} is paid")
        check(mail == "sent", "the Huey consumer sent the confirmation email")
        events = db.execute(
            sa.text("SELECT status FROM webhook_events WHERE type = 'checkout.session.completed'")
        ).scalars()
        check(list(events) == ["processed"], "the payment event was processed once")

    text = httpx.get(f"{base}/metrics", timeout=10).text
    check(
        len(re.findall(r"^shop_app_info\{", text, re.M)) == 1,
        "one shop_app_info series with several workers (multiprocess mode)",
    )
    check(re.search(r"^shop_orders_paid_total 1\.0$", text, re.M), "metrics count the paid order")
    served = {
        log.name: sum(1 for _ in log.open()) for log in sorted(run_dir.glob("app-*-access.log"))
    }
    check(len(served) == 2 and all(served.values()), f"both app instances served: {served}")


if __name__ == "__main__":
    try:
        main(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
    except AssertionError as exc:
        print(f"  FAILED  {exc}", file=sys.stderr)
        sys.exit(1)
    print("The checkout through nginx passed.")

"""Every route of the URL map, fed what attackers and broken clients send.

The walk covers routes added later without anyone listing them: it reads the URL map, learns
which query parameters and form fields each view reads by recording what it asks the request
for (a baseline request per route and role), takes the API's JSON bodies and query parameters
from the OpenAPI document, and then sends each of them, one at a time, every value of the
corpus below — as a visitor, a signed-in customer and a staff member with two-factor. Nothing
may answer 500 or take a second.
"""

from __future__ import annotations

import gc
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

from app.db import commit_unit_of_work
from app.orders.links import order_token
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf_from, sign_in_staff
from tests.admin.test_orders import paid_order
from tests.api.helpers import bearer, tokens
from tests.catalog import factories

SLOW = 1.0  # seconds: no answer may take longer

# Values people never mean but clients send.
NUMBERS = [
    "1e999999999",  # Decimal overflow
    "1e999997",  # a million-digit integer if anyone calls int() on it
    "-1e999999",
    "²",  # isdigit() is True, int() refuses
    "٣",  # an Arabic-Indic three: int() takes it
    "𝟗",  # a mathematical bold nine
    "99999999999999999999",  # 20 digits: past every integer column
    "2147483648",  # one past PostgreSQL's integer
    "-1",
    "0",
    "NaN",
    "-Infinity",
    "1.5",
    "0x10",
]
TEXTS = [
    "x" * 10_000,
    "a\x00b",  # a real NUL
    "",
    " ",
    "<script>alert(1)</script>",
    "../../etc/passwd",
]
CORPUS = NUMBERS + TEXTS
INVALID_UTF8 = "%FF%FE%C0"  # sent raw in the query string or the form body

PATH_VALUES = ["0", "2147483648", "99999999999999999999", "²", "-1", "x" * 2000, "%FF", "a%00"]
JSON_VALUES: list[object] = [
    10**30,
    -(10**30),
    2**31,
    -1,
    0,
    1e308,
    "1e999999999",
    "²",
    "x" * 10_000,
    "a\x00b",
    [1, 2],
    {"a": 1},
    None,
    True,
    "",
]

# Routes that end the session they run in go last, so the rest run signed in.
ENDS_SESSION = {
    "accounts.logout",
    "accounts.logout_everywhere",
    "accounts.delete_account",
    "api.logout",
    "api.account_delete",
}


class RecordingArgs(ImmutableMultiDict):
    """A request MultiDict that notes every key a view asks for."""

    seen: list[str] = []

    def _note(self, key):
        if isinstance(key, str):
            RecordingArgs.seen.append(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - MultiDict's signature
        self._note(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        self._note(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


class RecordingRequest(Request):
    parameter_storage_class = RecordingArgs


@dataclass
class Walk:
    client: object
    role: str
    headers: dict[str, str] = field(default_factory=dict)
    api_headers: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    fields: set[str] = field(default_factory=set)  # "rule name" pairs that were fed the corpus
    slowest: tuple[float, str] = (0.0, "")

    def send(self, method: str, url: str, **kwargs):
        if "json" in kwargs:  # None, arrays and scalars too, exactly as given
            kwargs["data"] = json.dumps(kwargs.pop("json"))
            kwargs["content_type"] = "application/json"
        response, took = self._timed(method, url, kwargs)
        if took > SLOW and response.status_code < 500:
            # Input that makes a request slow makes it slow every time (a million-digit int());
            # a busy machine (CI runs the suite on two workers of two cores) does not. The
            # first answer is the one checked; the second request is only timed.
            took = min(took, self._timed(method, url, kwargs)[1])
        self.sent += 1
        self.slowest = max(self.slowest, (took, f"{method} {url[:120]}"))
        label = f"{self.role} {method} {url[:160]} {_short(kwargs)}"
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} {label}")
        elif took > SLOW:
            self.failures.append(f"{took:.2f}s {label}")
        elif response.mimetype != "text/html" and response.data[:15].lower() == b"<!doctype html>":
            self.failures.append(f"HTML served as {response.mimetype}: {label}")
        return response

    def _timed(self, method: str, url: str, kwargs: dict):
        started = time.perf_counter()
        response = self.client.open(url, method=method, headers=self.headers, **kwargs)
        return response, time.perf_counter() - started


def _short(kwargs) -> str:
    text = repr(kwargs.get("data") or "")
    return text if len(text) < 200 else text[:200] + "…"


def _fill(rule, values: dict[str, str]) -> str:
    """The rule's URL with each argument replaced by ``values`` (raw, already quoted)."""

    def part(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        converter = match.group(1).split(":")[0].split("(")[0] if ":" in match.group(1) else ""
        if converter == "any":
            return "pay"
        return values.get(name, "1")

    return re.sub(r"<([^>]+)>", part, rule.rule)


def _path_args(rule) -> list[str]:
    return [a for a in rule.arguments if not str(rule._converters[a]).startswith("AnyConverter")]


@pytest.fixture
def world(db):
    """One of everything a URL can point at, so a rule's other arguments are real."""
    order = paid_order(email="hostile@example.com")
    shirts = factories.category("Hostile Shirts")
    product = factories.product("Hostile Shirt", category=shirts, stock=3)
    customer = make_user("hostile@example.com")
    commit_unit_of_work()
    return {
        "order_id": str(order.id),
        "number": order.number,
        "token": order_token(order),
        "product_id": str(product.id),
        "variant_id": str(product.variants[0].id),
        "category_id": str(shirts.id),
        "category_path": shirts.slug,
        "slug": product.slug,
        "user_id": str(customer.id),
        "page": "1",
        "name": "order-paid",
        "filename": "css/app.css",
    }


def _signed_in(app, role: str):
    client = app.test_client()
    walk = Walk(client, role)
    if role == "customer":
        login(client, "hostile@example.com")
        walk.api_headers = bearer(tokens(client, "hostile@example.com")["access_token"])
    elif role == "staff":
        sign_in_staff(client, "admin", "hostile-admin@example.com")
    return walk


def _csrf(walk: Walk) -> str:
    for page in ("/account/login", "/cart", "/admin/"):
        response = walk.client.get(page)
        if response.status_code == 200:
            try:
                return csrf_from(response.get_data(as_text=True))
            except AssertionError:
                continue
    raise AssertionError("no page with a CSRF token")


# Pages the same for everyone, or private to the browser (catalog pages carry the mini-cart):
# every other response is someone's own and must never be stored.
CACHEABLE = (
    "static",
    "catalog.",
    "api.categories",
    "api.products",
    "api.product_detail",
    "api.search_suggestions",
)


def _check_not_stored(walk: Walk, rule, url: str, response) -> None:
    cache_control = response.headers.get("Cache-Control", "")
    if (
        response.status_code < 400
        and not rule.endpoint.startswith(CACHEABLE)
        and "no-store" not in cache_control
    ):
        walk.failures.append(f"stored: {walk.role} GET {url} Cache-Control: {cache_control!r}")


def _learn_fields(walk: Walk, method: str, url: str, data: dict | None, rule) -> list[str]:
    RecordingArgs.seen = []
    response = walk.send(method, url, data=data)
    if method == "GET":
        _check_not_stored(walk, rule, url, response)
    names = [n for n in dict.fromkeys(RecordingArgs.seen) if n != "csrf_token"]
    RecordingArgs.seen = []
    return names


def _walk_html_rule(walk: Walk, rule, world: dict[str, str]) -> None:
    methods = sorted(rule.methods & {"GET", "POST"})
    for method in methods:
        token = {"csrf_token": _csrf(walk)} if method == "POST" else None
        for name in _path_args(rule):
            for value in PATH_VALUES:
                walk.send(method, _fill(rule, {**world, name: value}), data=token)
        url = _fill(rule, world)
        names = _learn_fields(walk, method, url, token, rule)
        for name in names:
            walk.fields.add(f"{method} {rule.rule} {name}")
            for value in CORPUS:
                if method == "GET":
                    walk.send("GET", f"{url}?{quote(name)}={quote(value)}")
                else:
                    walk.send("POST", url, data={**token, name: value})
            if method == "GET":
                walk.send("GET", f"{url}?{quote(name)}={INVALID_UTF8}")
                walk.send("GET", f"{url}?{quote(name)}=1&{quote(name)}=2")
            else:
                body = f"csrf_token={quote(token['csrf_token'])}&{quote(name)}={INVALID_UTF8}"
                walk.send("POST", url, data=body, content_type="application/x-www-form-urlencoded")
                walk.send("POST", url, data={**token, name: ["1", "2"]})
        if method == "POST" and names:  # every field at once, as a broken form posts them
            for value in CORPUS:
                walk.send("POST", url, data={**token, **dict.fromkeys(names, value)})


def _api_operations(spec: dict) -> dict[tuple[str, str], dict]:
    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                ops[(method.upper(), path)] = op
    return ops


def _schema_fields(spec: dict, schema: dict) -> list[str]:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return list(schema.get("properties", {}))


def _walk_api_rule(walk: Walk, rule, world: dict[str, str], spec: dict) -> None:
    walk.headers = walk.api_headers
    try:
        openapi_path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = _api_operations(spec).get((method, openapi_path), {})
            for name in _path_args(rule):
                for value in PATH_VALUES:
                    walk.send(method, _fill(rule, {**world, name: value}), json={})
            url = _fill(rule, world)
            if method == "GET":
                _check_not_stored(walk, rule, url, walk.send("GET", url))
            for param in op.get("parameters", []):
                if param["in"] != "query":
                    continue
                walk.fields.add(f"{method} {rule.rule} ?{param['name']}")
                for value in CORPUS:
                    walk.send(method, f"{url}?{quote(param['name'])}={quote(value)}")
                walk.send(method, f"{url}?{quote(param['name'])}={INVALID_UTF8}")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            names = _schema_fields(spec, body["schema"])
            for name in names:
                walk.fields.add(f"{method} {rule.rule} json:{name}")
                for value in JSON_VALUES:
                    walk.send(method, url, json={name: value})
            for value in JSON_VALUES:
                walk.send(method, url, json=value)
                walk.send(method, url, json=dict.fromkeys(names, value))
            for raw in (b'{"a": 1e999999999, "b": "\xff"}', b"[" * 5000, b'{"a": "\\u0000"}'):
                walk.send(method, url, data=raw, content_type="application/json")
    finally:
        walk.headers = {}


def _rules(app):
    rules = [
        r
        for r in app.url_map.iter_rules()
        if not r.endpoint.startswith(("testing.", "api_testing.", "static"))
    ]
    return sorted(rules, key=lambda r: (r.endpoint in ENDS_SESSION, r.rule))


@pytest.mark.parametrize("role", ["visitor", "customer", "staff"])
def test_no_route_answers_500_or_stalls_on_hostile_input(make_app, db, world, role):
    app = make_app(RATELIMIT_ENABLED=False)
    app.request_class = RecordingRequest
    with app.app_context():
        spec = app.test_client().get("/api/v1/openapi.json").get_json()
    walk = _signed_in(app, role)
    # A full collection scans every object this process holds: by this test, the whole suite's
    # (a million or more under `make test`), a pause of a second charged to whichever request
    # triggered it (an invoice PDF, which allocates most, in CI run 32). A server's worker
    # holds one app, not a test suite's leftovers: freeze what exists now, so each request is
    # timed with the collections of its own garbage only.
    assert gc.get_freeze_count() == 0  # unfreeze below would thaw someone else's freeze
    gc.collect()
    gc.freeze()
    try:
        for rule in _rules(app):
            if rule.rule.startswith("/api/"):
                if role != "staff":  # the API has no staff door; staff tokens are customer tokens
                    _walk_api_rule(walk, rule, world, spec)
            else:
                _walk_html_rule(walk, rule, world)
    finally:
        gc.unfreeze()
    db.session.rollback()
    print(f"{role}: {walk.sent} requests, slowest {walk.slowest[0]:.3f}s {walk.slowest[1]}")
    # The walk really reached the views' inputs (a broken discovery would pass vacuously).
    html_fields = {f for f in walk.fields if " /api/" not in f}
    api_fields = {f for f in walk.fields if " /api/" in f}
    assert len(html_fields) > {"visitor": 30, "customer": 50, "staff": 150}[role], html_fields
    if role != "staff":
        assert len(api_fields) > 50, api_fields
        assert "POST /api/v1/cart/items json:variant_id" in api_fields
        assert "GET /api/v1/products ?min_price" in api_fields
    assert "POST /cart/add variant_id" in html_fields
    assert "GET /products min_price" in html_fields
    assert not walk.failures, f"{len(walk.failures)} failures:\n" + "\n".join(walk.failures[:60])

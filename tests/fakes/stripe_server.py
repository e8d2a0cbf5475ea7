"""A small stateful Stripe API on loopback, so the real SDK is exercised end to end.

It speaks the wire protocol the SDK uses (form-encoded bodies with bracket syntax, JSON
answers, Stripe-style error objects) for the few endpoints the shop calls: Checkout Sessions
and Refunds. Tests steer it with Python methods (``complete``, ``fail_next``, ``delay_next``)
rather than over HTTP.

It enforces what Stripe's API reference documents, so code that passes here is not refused
by the real thing:

* Checkout Session ``expires_at`` "must be between 30 minutes and 24 hours" after the
  session is created, checked when the request arrives (no slack).
* Idempotency (docs.stripe.com/api/idempotent_requests): the first result of a key is saved
  once the endpoint starts executing and replayed for every retry, errors included; a key
  reused with different parameters, or on another endpoint, is an ``idempotency_error``
  (400); a retry while the first request is still executing is a 409 conflict; requests
  refused by validation are not saved. Keys belong to one API key's account and mode (a
  test key's never answer a live key's request).
* Every request names its API version (``Stripe-Version``): the shop pins one instead of
  taking the account's default, which changes when someone upgrades it in the dashboard.
* Objects carry every field of Stripe's own fixtures (``stripe_shapes.json``).
* Customers (docs.stripe.com/api/customers): a Checkout Session takes ``customer`` *or*
  ``customer_email``, never both, and the customer must exist; saving a card at Checkout
  (``saved_payment_method_options[payment_method_save]``) needs a customer to save it under.
  A card is saved only when the test says the customer ticked the box
  (``complete(..., save_card=True)``), with ``allow_redisplay: "always"`` as Checkout does.
  Listing a customer's payment methods, retrieving one through its customer (404 for
  another customer's) and detaching (refused once it is detached) are as documented;
  a deleted customer's cards go with it.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

_SESSION_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)$")
_EXPIRE_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)/expire$")
_REFUND_PATH = re.compile(r"^/v1/refunds/([^/]+)$")
_PAY_PATH = re.compile(r"^/pay/([^/]+)$")
_CUSTOMER_PATH = re.compile(r"^/v1/customers/([^/]+)$")
_CUSTOMER_PMS_PATH = re.compile(r"^/v1/customers/([^/]+)/payment_methods$")
_CUSTOMER_PM_PATH = re.compile(r"^/v1/customers/([^/]+)/payment_methods/([^/]+)$")
_DETACH_PATH = re.compile(r"^/v1/payment_methods/([^/]+)/detach$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY_PART = re.compile(r"\[([^\]]*)\]")

# Stripe only accepts expires_at between 30 minutes and 24 hours after creation.
_MIN_EXPIRY = 30 * 60
_MAX_EXPIRY = 24 * 3600
SHAPES: dict[str, list[str]] = json.loads(
    (Path(__file__).with_name("stripe_shapes.json")).read_text()
)


# Stripe's smallest charge per currency, minor units (its currencies page; 50 elsewhere).
_MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "dkk": 250, "sek": 300}


def shaped(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An object of ``kind`` with every field Stripe always sends (None unless given)."""
    unknown = set(fields) - set(SHAPES[kind])
    assert not unknown, f"not fields of a {kind}: {sorted(unknown)}"
    return {name: fields.get(name) for name in SHAPES[kind]}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    params: dict[str, Any]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class StripeApiError(Exception):
    """Raised inside handlers; becomes a Stripe-shaped error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        saved: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.saved = saved  # raised after execution began: replayed for the key's retries
        self.error = {"type": type_, "message": message, **extra}


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracket syntax (``a[b][0][c]=v``) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # a[]=x appends
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _int(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise StripeApiError(400, f"Missing required param: {name}.", param=name)
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise StripeApiError(400, f"Invalid integer: {raw}", param=name) from None


def _missing(kind: str, ident: str, param: str = "id") -> StripeApiError:
    return StripeApiError(404, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


class FakeStripe:
    """A Stripe-compatible HTTP server; ``url`` is its API base for ``STRIPE_API_BASE``."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, list[dict[str, Any]]] = {}  # session id -> lines as sent
        self.requests: list[RecordedRequest] = []
        # Keys per API key: Stripe keeps them per account and mode (test and live apart).
        self._idempotent: dict[tuple[str, str], tuple[str, str, dict[str, Any], _Reply]] = {}
        self._executing: set[tuple[str, str]] = set()
        self._failures: list[int] = []
        self._saved_failures: list[int] = []
        self.clock_skew = 0.0  # seconds Stripe's clock is ahead of ours
        self._delays: list[float] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns promptly
            name="fake-stripe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in delay_next
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------

    def complete(
        self, session_id: str, paid: bool = True, *, save_card: bool = False
    ) -> dict[str, Any]:
        """The customer finished Checkout (``paid=False``: an async method still pending);
        ``save_card``: they ticked "save my payment details", which Checkout shows only when
        the session enabled saving for a customer."""
        with self._lock:
            session = self.sessions[session_id]
            self._expire_if_due(session)
            if session["status"] != "open":
                raise ValueError(f"a {session['status']} session cannot be paid")
            if save_card:
                options = session["saved_payment_method_options"] or {}
                if options.get("payment_method_save") != "enabled":
                    raise ValueError("Checkout showed no box to save the card")
                self.add_card(session["customer"])
            session["status"] = "complete"
            session["payment_status"] = "paid" if paid else "unpaid"
            session["payment_intent"] = session["payment_intent"] or self._new_id("pi_test")
            session["customer_details"] = {"email": session["customer_email"]}
            session["url"] = None
            return dict(session)

    def expire(self, session_id: str, *, promotions: str | None = None) -> dict[str, Any]:
        """The session lapses unpaid, the customer having answered Checkout's promotions
        consent with ``promotions`` ("opt_in", "opt_out" or None). As Stripe does, a session
        made with recovery enabled then carries a recovery link (valid 30 days)."""
        with self._lock:
            self._expire_session(session_id)
            stored = self.sessions[session_id]
            if stored["consent_collection"]:
                stored["consent"] = {"promotions": promotions, "terms_of_service": None}
            recovery = (stored.get("after_expiration") or {}).get("recovery")
            if recovery and recovery["enabled"]:
                recovery["url"] = f"{self.url}/recover/{session_id}"
                recovery["expires_at"] = int(self.now()) + 30 * 86400
            return dict(stored)

    def recover(self, session_id: str) -> dict[str, Any]:
        """The customer opens the recovery link: a new session with the expired one's line
        items, references and metadata, pointing back at it in ``recovered_from``."""
        with self._lock:
            old = self.sessions[session_id]
            params = {
                "mode": "payment",
                "currency": old["currency"],
                "line_items": self.line_items[session_id],
                "success_url": old["success_url"],
                "cancel_url": old["cancel_url"],
                "client_reference_id": old["client_reference_id"],
                "customer_email": old["customer_email"],
                "metadata": old["metadata"],
                "_recovered_from": session_id,
            }
            return self._create_session(params)

    def add_card(
        self, customer_id: str, *, brand: str = "visa", last4: str = "4242"
    ) -> dict[str, Any]:
        """A card saved under ``customer_id`` (as Checkout saves one the customer agreed to)."""
        with self._lock:
            pm = shaped(
                "payment_method",
                {
                    "id": self._new_id("pm"),
                    "object": "payment_method",
                    "type": "card",
                    "customer": customer_id,
                    "allow_redisplay": "always",
                    "billing_details": {"email": None, "name": None, "phone": None},
                    "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034},
                    "created": int(self.now()),
                    "livemode": False,
                    "metadata": {},
                },
            )
            self.payment_methods[pm["id"]] = pm
            return dict(pm)

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next ``n`` API calls answer ``status`` with an error body, changing nothing."""
        with self._lock:
            self._failures.extend([status] * n)

    def fail_after_executing_next(self, n: int = 1, status: int = 500) -> None:
        """The next ``n`` POSTs do their work (a session is made) but answer ``status``, and
        Stripe saves that answer for the idempotency key: every retry gets it again, with
        ``Stripe-Should-Retry: false``, for as long as the key is kept (24 hours)."""
        with self._lock:
            self._saved_failures.extend([status] * n)

    def delay_next(self, seconds: float, n: int = 1) -> None:
        """The next ``n`` API calls wait ``seconds`` before being handled (slow network)."""
        with self._lock:
            self._delays.extend([seconds] * n)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def open_sessions(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Sessions a customer could still pay (optionally of one ``client_reference_id``)."""
        with self._lock:
            for session in self.sessions.values():
                self._expire_if_due(session)
            return [
                dict(s)
                for s in self.sessions.values()
                if s["status"] == "open"
                and (reference is None or s["client_reference_id"] == reference)
            ]

    def now(self) -> float:
        """Stripe's clock, to the sub-second: a deadline one second short is refused."""
        return time.time() + self.clock_skew

    # -- request handling ------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{secrets.token_hex(8)}"

    def handle(
        self, method: str, path: str, headers: CaseInsensitiveDict[str], params: dict[str, Any]
    ) -> _Reply:
        key = headers.get("Idempotency-Key") if method == "POST" else None
        auth = headers.get("Authorization") or ""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, params))
            if path.startswith("/pay/"):
                return self._pay_page(path)
            if not (headers.get("Authorization") or "").startswith("Bearer sk_"):
                return _error_reply(
                    StripeApiError(
                        401, "You did not provide an API key.", type_="invalid_request_error"
                    )
                )
            if not headers.get("Stripe-Version"):
                return _error_reply(
                    StripeApiError(
                        400,
                        "This test server requires an explicit Stripe-Version header: an "
                        "unpinned request gets the account's default version.",
                    )
                )
            if self._failures:  # refused before reaching the endpoint: nothing saved
                status = self._failures.pop(0)
                return _error_reply(StripeApiError(status, "Injected failure.", type_="api_error"))
            if key is not None:
                if (auth, key) in self._executing:
                    return _error_reply(
                        StripeApiError(
                            409,
                            "There is currently another in-progress request using this "
                            f"Idempotency Key (that probably means you submitted twice, and "
                            f"the other request is still going through): {key}. Please try "
                            "again later.",
                            type_="idempotency_error",
                        )
                    )
                if (auth, key) in self._idempotent:
                    first_method, first_path, first_params, reply = self._idempotent[(auth, key)]
                    if (first_method, first_path, first_params) != (method, path, params):
                        return _error_reply(
                            StripeApiError(
                                400,
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other "
                                f"than '{key}' if you meant to execute a different request.",
                                type_="idempotency_error",
                            )
                        )
                    replayed = {"Idempotent-Replayed": "true", "Original-Request": "req_first"}
                    if reply.status != 200:
                        replayed["Stripe-Should-Retry"] = "false"
                    return _Reply(reply.status, reply.body, replayed)
                self._executing.add((auth, key))
            delay = self._delays.pop(0) if self._delays else 0.0
        try:
            if delay and self._stopping.wait(delay):
                return _Reply(503, {"error": {"type": "api_error", "message": "Stopping."}})
            with self._lock:
                saved = True
                try:
                    reply = _Reply(200, self._route(method, path, params))
                except StripeApiError as exc:
                    reply, saved = _error_reply(exc), exc.saved
                if method == "POST" and reply.status == 200 and self._saved_failures:
                    status = self._saved_failures.pop(0)
                    reply = _error_reply(
                        StripeApiError(status, "Internal error.", type_="api_error")
                    )
                if key is not None and saved:
                    self._idempotent[(auth, key)] = (method, path, params, reply)
                return reply
        finally:
            if key is not None:
                with self._lock:
                    self._executing.discard((auth, key))

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(params)
        if method == "GET" and (match := _SESSION_PATH.match(path)):
            return dict(self._session(match[1]))
        if method == "POST" and (match := _EXPIRE_PATH.match(path)):
            return self._expire_session(match[1])
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params)
        answer = self._customer_route(method, path, params)
        if answer is not None:
            return answer
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")

    def _customer_route(
        self, method: str, path: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Customers and their saved payment methods; None for any other path."""
        if method == "POST" and path == "/v1/customers":
            return self._create_customer(params)
        if match := _CUSTOMER_PATH.match(path):
            return self._customer_request(method, match[1], params)
        if method == "GET" and (match := _CUSTOMER_PMS_PATH.match(path)):
            self._customer(match[1])
            if params.get("type") not in (None, "card"):
                raise StripeApiError(400, "This fake only lists cards.", param="type")
            cards = [
                dict(pm)
                for pm in reversed(self.payment_methods.values())
                if pm["customer"] == match[1]
            ]
            limit = _int(params, "limit", required=False) or 10
            return {
                "object": "list",
                "data": cards[:limit],
                "has_more": len(cards) > limit,
                "url": f"/v1/customers/{match[1]}/payment_methods",
            }
        if method == "GET" and (match := _CUSTOMER_PM_PATH.match(path)):
            self._customer(match[1])
            pm = self.payment_methods.get(match[2])
            if pm is None or pm["customer"] != match[1]:
                raise _missing("payment_method", match[2])
            return dict(pm)
        if method == "POST" and (match := _DETACH_PATH.match(path)):
            pm = self.payment_methods.get(match[1])
            if pm is None:
                raise _missing("payment_method", match[1])
            if pm["customer"] is None:
                raise StripeApiError(
                    400,
                    "The payment method you provided is not attached to a customer so "
                    "detachment is impossible.",
                )
            pm["customer"] = None
            return dict(pm)
        if method == "GET" and (match := _REFUND_PATH.match(path)):
            refund = self.refunds.get(match[1])
            if refund is None:
                raise _missing("refund", match[1])
            return dict(refund)
        return None

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        email = params.get("email")
        if email is not None and (len(email) > 512 or not _EMAIL.match(email)):
            raise StripeApiError(400, "Invalid email address: " + email[:60], param="email")
        if len(params.get("name") or "") > 256:
            raise StripeApiError(400, "Name is too long (256 characters at most).", param="name")
        customer = shaped(
            "customer",
            {
                "id": self._new_id("cus"),
                "object": "customer",
                "email": email,
                "name": params.get("name"),
                "metadata": params.get("metadata") or {},
                "created": int(self.now()),
                "livemode": False,
                "balance": 0,
                "delinquent": False,
                "invoice_settings": {"default_payment_method": None},
                "preferred_locales": [],
            },
        )
        self.customers[customer["id"]] = customer
        return dict(customer)

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _missing("customer", customer_id)
        return customer

    def _customer_request(
        self, method: str, customer_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        customer = self._customer(customer_id)
        if method == "GET":
            return dict(customer)
        if method == "DELETE":
            del self.customers[customer_id]
            for pm in self.payment_methods.values():
                if pm["customer"] == customer_id:
                    pm["customer"] = None
            return {"id": customer_id, "object": "customer", "deleted": True}
        email = params.get("email")
        if email is not None and not _EMAIL.match(email):
            raise StripeApiError(400, "Invalid email address: " + email[:60], param="email")
        customer.update({k: params[k] for k in ("email", "name") if k in params})
        return dict(customer)

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise _missing("checkout.session", session_id)
        self._expire_if_due(session)
        return session

    def _expire_if_due(self, session: dict[str, Any]) -> None:
        """Stripe closes an open session at its expires_at by itself."""
        if session["status"] == "open" and session["expires_at"] <= self.now():
            session["status"], session["url"] = "expired", None

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise StripeApiError(400, "This fake only supports mode=payment.", param="mode")
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                raise StripeApiError(400, f"Missing required param: {name}.", param=name)
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeApiError(400, "Missing required param: line_items.", param="line_items")
        currency = params.get("currency")
        total = 0
        for i, item in enumerate(items):
            price = item.get("price_data") or {}
            if not (price.get("product_data") or {}).get("name"):
                raise StripeApiError(
                    400,
                    "Missing required param: line_items[{i}][price_data][product_data][name].",
                    param=f"line_items[{i}][price_data][product_data][name]",
                )
            currency = currency or price.get("currency")
            if price.get("currency") != currency:
                raise StripeApiError(400, "All line items must use the same currency.")
            amount = _int(price, "unit_amount")
            quantity = _int(item, "quantity")
            assert amount is not None and quantity is not None
            if amount < 0 or quantity < 1:
                raise StripeApiError(400, "Invalid amount or quantity.", param="line_items")
            total += amount * quantity
        smallest = _MINIMUM_CHARGE.get(str(currency), 50)
        if total < smallest:  # docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
            raise StripeApiError(
                400,
                f"The Checkout Session's total amount due must add up to at least {smallest} "
                f"(in the smallest unit of {currency}).",
                param="line_items",
                code="amount_too_small",
            )
        now = self.now()
        expires_at = _int(params, "expires_at", required=False)
        if expires_at is None:
            expires_at = now + _MAX_EXPIRY
        elif not now + _MIN_EXPIRY <= expires_at <= now + _MAX_EXPIRY:
            raise StripeApiError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
            )
        recovery = ((params.get("after_expiration") or {}).get("recovery") or {}).get("enabled")
        if recovery not in (None, "true", "false"):
            raise StripeApiError(
                400,
                "Invalid boolean: after_expiration[recovery][enabled].",
                param="after_expiration[recovery][enabled]",
            )
        promotions = (params.get("consent_collection") or {}).get("promotions")
        if promotions not in (None, "auto", "none"):
            raise StripeApiError(
                400,
                "Invalid consent_collection[promotions]: must be one of auto or none.",
                param="consent_collection[promotions]",
            )
        customer, saving = self._session_customer(params)
        session_id = self._new_id("cs_test")
        session = shaped(
            "checkout.session",
            {
                "id": session_id,
                "object": "checkout.session",
                "url": f"{self.url}/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "mode": "payment",
                "livemode": False,
                "created": int(now),
                "expires_at": expires_at,
                "amount_subtotal": total,
                "amount_total": total,
                "currency": currency,
                "client_reference_id": params.get("client_reference_id"),
                "customer": customer,
                "customer_email": params.get("customer_email"),
                "customer_details": None,
                "saved_payment_method_options": {
                    "payment_method_save": saving,
                    "allow_redisplay_filters": ["always"],
                    "payment_method_remove": None,
                }
                if customer
                else None,
                "metadata": params.get("metadata") or {},
                "payment_intent": None,
                "payment_method_types": ["card"],
                "success_url": params["success_url"],
                "cancel_url": params["cancel_url"],
                "custom_fields": [],
                "shipping_options": [],
                "payment_method_options": {},
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "after_expiration": {
                    "recovery": {
                        "enabled": recovery == "true",
                        "allow_promotion_codes": False,
                        "expires_at": None,
                        "url": None,
                    }
                }
                if recovery
                else None,
                "consent_collection": {"promotions": promotions} if promotions else None,
                "consent": None,
                "recovered_from": params.get("_recovered_from"),
            },
        )
        self.sessions[session_id] = session
        self.line_items[session_id] = items
        return dict(session)

    def _session_customer(self, params: dict[str, Any]) -> tuple[str | None, str | None]:
        """A session's ``customer`` and whether it may save a card, as Stripe checks them."""
        customer = params.get("customer")
        if customer is not None:
            if params.get("customer_email") is not None:
                raise StripeApiError(
                    400, "You may only specify one of these parameters: customer, customer_email."
                )
            if customer not in self.customers:
                raise StripeApiError(
                    400,
                    f"No such customer: '{customer}'",
                    code="resource_missing",
                    param="customer",
                )
        saving = (params.get("saved_payment_method_options") or {}).get("payment_method_save")
        if saving not in (None, "enabled", "disabled"):
            raise StripeApiError(
                400,
                "Invalid saved_payment_method_options[payment_method_save]: must be one of "
                "disabled or enabled.",
                param="saved_payment_method_options[payment_method_save]",
            )
        if saving == "enabled" and customer is None:
            raise StripeApiError(
                400,
                "saved_payment_method_options[payment_method_save] needs a customer to save "
                "the payment method to.",
                param="saved_payment_method_options[payment_method_save]",
            )
        return customer, saving

    def _expire_session(self, session_id: str) -> dict[str, Any]:
        session = self._session(session_id)
        if session["status"] != "open":
            raise StripeApiError(
                400,
                f"Only Checkout Sessions with a status of `open` can be expired. "
                f"This Checkout Session has a status of `{session['status']}`.",
            )
        session["status"] = "expired"
        session["url"] = None
        return dict(session)

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = params.get("payment_intent")
        if not intent:
            raise StripeApiError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
            )
        session = next((s for s in self.sessions.values() if s["payment_intent"] == intent), None)
        if session is None:
            raise _missing("payment_intent", intent, param="payment_intent")
        if session["payment_status"] != "paid":
            raise StripeApiError(
                400,
                f"This PaymentIntent ({intent}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        remaining = session["amount_total"] - refunded
        amount = _int(params, "amount", required=False)
        amount = remaining if amount is None else amount
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge for PaymentIntent {intent} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount <= 0 or amount > remaining:
            raise StripeApiError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        refund = shaped(
            "refund",
            {
                "id": self._new_id("re_test"),
                "object": "refund",
                "amount": amount,
                "currency": session["currency"],
                "payment_intent": intent,
                "charge": "ch_test_" + intent.removeprefix("pi_test_"),
                "status": "succeeded",
                "reason": params.get("reason"),
                "metadata": params.get("metadata") or {},
                "created": int(self.now()),
            },
        )
        self.refunds[refund["id"]] = refund
        return dict(refund)

    def _pay_page(self, path: str) -> _Reply:
        match = _PAY_PATH.match(path)
        if not match or match[1] not in self.sessions:
            return _error_reply(_missing("checkout.session", path))
        session = self.sessions[match[1]]
        return _Reply(200, {"fake_checkout": session["id"], "status": session["status"]})


def _error_reply(exc: StripeApiError) -> _Reply:
    return _Reply(exc.status, {"error": exc.error})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind; that is the point.
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe  # one connection per request (HTTP/1.0): nothing lingers after stop()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(url.query, keep_blank_values=True)
        pairs += parse_qsl(body, keep_blank_values=True)
        headers = CaseInsensitiveDict(dict(self.headers.items()))
        reply = self.fake.handle(self.command, url.path, headers, parse_form(pairs))
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up

    do_GET = _serve  # noqa: N815 - http.server dispatches on these names
    do_POST = _serve  # noqa: N815
    do_DELETE = _serve  # noqa: N815


def make_event(type: str, obj: dict[str, Any]) -> dict[str, Any]:  # noqa: A002 - Stripe's name
    """A Stripe-shaped event wrapping ``obj`` (e.g. a session from ``FakeStripe.sessions``)."""
    return shaped(
        "event",
        {
            "id": f"evt_test_{secrets.token_hex(12)}",
            "object": "event",
            "type": type,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "api_version": stripe.api_version,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
        },
    )


def signed_event(
    event: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and ``Stripe-Signature`` header Stripe would send for ``event``."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return payload.encode(), header

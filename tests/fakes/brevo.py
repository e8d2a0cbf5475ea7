"""A fake Brevo API on loopback that refuses what Brevo's API reference refuses, so a test
that passes against it says something about the real service.

Rules written in (developers.brevo.com, API reference v3):

* Every call needs the ``api-key`` header: 401 ``unauthorized`` otherwise.
* ``POST /smtp/email``: ``sender`` with an ``email``, a non-empty ``to`` of ``{email}``,
  ``subject``, and ``htmlContent`` or ``textContent`` (unless a ``templateId``); 201 with
  ``messageId``.
* ``POST /transactionalSMS/send`` (``/transactionalSMS/sms`` is deprecated: refused here so
  the shop never drifts back to it): ``sender`` at most 11 alphanumeric characters or 15
  digits, ``recipient`` the number with its country code and no ``+``, ``content``; 201 with
  a numeric ``messageId``.
* ``POST /whatsapp/sendMessage``: ``senderNumber``, ``contactNumbers`` (a list), and a
  ``templateId`` or ``text``; 201 with ``messageId``.
* Errors are ``{"code": ..., "message": ...}`` with 400 for a missing or invalid parameter.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}|[0-9]{1,15}")
_NUMBER = re.compile(r"[1-9][0-9]{6,14}")  # E.164 digits, without the +
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _missing(name: str) -> Refusal:
    return Refusal(400, "missing_parameter", f"{name} is missing")


def _invalid(name: str) -> Refusal:
    return Refusal(400, "invalid_parameter", f"{name} is not valid")


def check_email(body: dict[str, Any]) -> None:
    sender = body.get("sender") or {}
    if not isinstance(sender, dict) or not sender.get("email"):
        raise _missing("sender.email")
    to = body.get("to")
    if not isinstance(to, list) or not to:
        raise _missing("to")
    for recipient in to:
        if not _EMAIL.fullmatch(str((recipient or {}).get("email", ""))):
            raise _invalid("to.email")
    if body.get("templateId"):
        return
    if not body.get("subject"):
        raise _missing("subject")
    if not (body.get("htmlContent") or body.get("textContent")):
        raise _missing("htmlContent")


def check_sms(body: dict[str, Any]) -> None:
    for name in ("sender", "recipient", "content"):
        if not body.get(name):
            raise _missing(name)
    if not _SENDER.fullmatch(str(body["sender"])):
        raise _invalid("sender")
    if not _NUMBER.fullmatch(str(body["recipient"])):
        raise _invalid("recipient")
    if body.get("type", "transactional") not in ("transactional", "marketing"):
        raise _invalid("type")


def check_whatsapp(body: dict[str, Any]) -> None:
    if not body.get("senderNumber"):
        raise _missing("senderNumber")
    numbers = body.get("contactNumbers")
    if not isinstance(numbers, list) or not numbers:
        raise _missing("contactNumbers")
    if not all(_NUMBER.fullmatch(str(n)) for n in numbers):
        raise _invalid("contactNumbers")
    if not (body.get("templateId") or body.get("text")):
        raise _missing("templateId")


ROUTES = {
    "/v3/smtp/email": check_email,
    "/v3/transactionalSMS/send": check_sms,
    "/v3/whatsapp/sendMessage": check_whatsapp,
}


class FakeBrevo:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, dict]] = []  # accepted and refused alike
        self.refusals: list[tuple[str, str]] = []  # (path, error code)
        self.accepted: list[tuple[str, dict]] = []  # (path, body) of the calls answered 201
        self.status = 201  # set to 429/5xx/4xx to make every call fail so
        self.next_id = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = None
                outer.requests.append((self.path, dict(self.headers), body or {}))
                status, reply = outer.answer(self.path, self.headers.get("api-key"), body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(reply).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, api_key: str | None, body: Any) -> tuple[int, dict]:
        try:
            if not api_key:
                raise Refusal(401, "unauthorized", "Key not found")
            check = ROUTES.get(path)
            if check is None:
                raise Refusal(404, "not_found", f"{path} is not an endpoint")
            if not isinstance(body, dict):
                raise Refusal(400, "bad_request", "Invalid JSON")
            check(body)
        except Refusal as exc:
            self.refusals.append((path, exc.code))
            return exc.status, {"code": exc.code, "message": str(exc)}
        if self.status >= 400:
            return self.status, {"code": "error", "message": "failure"}
        self.next_id += 1
        self.accepted.append((path, body))
        if path == "/v3/transactionalSMS/send":
            return 201, {"messageId": 1511882900176220 + self.next_id}
        return 201, {"messageId": f"<brevo-{self.next_id}@relay>"}

    def sent(self, path: str) -> list[dict]:
        """Bodies of the accepted calls to ``path`` ("/transactionalSMS/send", ...)."""
        return [body for p, body in self.accepted if p == "/v3" + path]

"""Real protocol peers on loopback: an SMTP server (aiosmtpd) and a fake Brevo API."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.fakes.brevo import FakeBrevo


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages = []
        self.fail_with: str | None = None  # e.g. "451 Try again later"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        if self.fail_with:
            return self.fail_with
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    sink = SmtpSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def brevo_server():
    fake = FakeBrevo()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()

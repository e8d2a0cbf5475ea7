"""A Huey consumer killed (SIGKILL) mid-send loses nothing and sends nothing twice.

Real processes: a consumer started with ``huey_consumer tasks.huey``, an SMTP server that
stalls inside DATA, and the sweeper that hands the orphaned row out again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.db import unit_of_work, utcnow
from app.extensions import db
from app.notifications.models import Notification, Status
from app.notifications.samples import SAMPLES
from app.notifications.services import sweep
from tests.databases import temporary_database
from tests.notifications.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class StallingSink:
    def __init__(self) -> None:
        self.messages = []
        self.stalling = threading.Event()
        self.release = threading.Event()
        self.stall_next = True

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        if self.stall_next:
            self.stall_next = False
            self.stalling.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "421 4.3.0 Connection lost"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def stalling_smtp():
    sink = StallingSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    sink.release.set()
    controller.stop()


def test_killed_consumer_mid_send_is_recovered_once(tmp_root, make_app, stalling_smtp):
    with temporary_database(tmp_root, "consumer") as url:
        instance = tmp_root / f"consumer-{uuid.uuid4().hex[:6]}"
        settings = {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": stalling_smtp.port,
            "NOTIFY_HTTP_TIMEOUT": 30.0,
        }
        app = make_app(url, SHOP_INSTANCE_DIR=str(instance), **settings)
        with app.app_context():
            flask_migrate.upgrade()
            with unit_of_work():
                db.session.execute(
                    sa.insert(Notification).values(
                        to_address="ada@example.com",
                        channel="email",
                        template="order-delivered",
                        variables=SAMPLES["order-delivered"],
                        category="transactional",
                        status=Status.QUEUED,
                        attempts=0,
                        last_error="",
                        provider="",
                        provider_message_id="",
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                )
            notification_id = db.session.execute(sa.select(sa.func.max(Notification.id))).scalar()

        env = {
            **os.environ,
            "SHOP_ENV": "development",
            "SHOP_INSTANCE_DIR": str(instance),
            "DATABASE_URL": url,
            "HUEY_IMMEDIATE": "0",
            "HUEY_NAME": f"shop-crash-{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "WARNING",
            **{k: str(v) for k, v in settings.items()},
        }
        consumer = subprocess.Popen(
            [str(BIN / "huey_consumer"), "tasks.huey", "--workers", "1", "--worker-type", "thread"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"from app.notifications.tasks import deliver_notification; "
                    f"deliver_notification({notification_id})",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                timeout=60,
                capture_output=True,
            )
            assert stalling_smtp.stalling.wait(30), "the consumer never reached the SMTP server"
            os.killpg(consumer.pid, signal.SIGKILL)
            consumer.wait(10)
        finally:
            if consumer.poll() is None:
                os.killpg(consumer.pid, signal.SIGKILL)
        stalling_smtp.release.set()

        with app.app_context():
            row = db.session.get(Notification, notification_id)
            assert (row.status, row.attempts) == (Status.SENDING, 1)  # orphaned, not lost
            assert stalling_smtp.messages == []  # the killed send never completed
            app.config["NOTIFY_SENDING_TIMEOUT"] = 0
            db.session.execute(
                sa.update(Notification).values(updated_at=utcnow().replace(year=2020))
            )
            with unit_of_work():
                assert sweep() == 1  # delivered in-process (immediate queue) after the commit
            db.session.expire_all()
            row = db.session.get(Notification, notification_id)
            assert (row.status, row.attempts) == (Status.SENT, 2)
            with unit_of_work():
                sweep()
            assert len(stalling_smtp.messages) == 1
            db.engine.dispose()

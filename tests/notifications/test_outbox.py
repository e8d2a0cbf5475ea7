"""notify() writes a durable row; delivery claims it once; the sweeper recovers lost work."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import commit_unit_of_work, rollback_unit_of_work, utcnow
from app.notifications.models import Notification, Status
from app.notifications.services import (
    backoff,
    claim,
    is_allowed,
    notify,
    retry,
    set_preference,
    sweep,
    unsubscribe,
)
from app.notifications.tasks import deliver, send_bulk
from tests.notifications.helpers import fresh

ORDER_VARS = {
    "name": "Ada",
    "order_number": "SS-1",
    "order_url": "https://x/o/1",
    "currency": "EUR",
}


def test_notify_records_template_and_variables_not_a_rendered_body(db):
    n = notify("order-delivered", to="ada@example.com", user_id=None, variables=ORDER_VARS)
    assert n.status == Status.QUEUED
    columns = set(Notification.__table__.columns.keys())
    assert not columns & {"body", "html", "text", "subject", "rendered"}
    assert n.template == "order-delivered" and n.variables["order_number"] == "SS-1"


def test_commit_delivers_through_the_queue(db):
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    assert n.status == Status.QUEUED  # nothing is sent inside the request's transaction
    commit_unit_of_work()
    sent = fresh(n.id)
    assert sent.status == Status.SENT
    assert (sent.provider, sent.provider_message_id) == ("outbox", f"outbox-{n.id}")
    assert sent.attempts == 1 and sent.sent_at is not None


def test_rolled_back_notify_sends_nothing(db):
    notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    rollback_unit_of_work()
    count = db.session.execute(sa.select(sa.func.count()).select_from(Notification)).scalar()
    assert count == 0


def test_a_row_is_claimed_and_sent_at_most_once(db):
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    db.session.flush()
    assert claim(n.id) is True
    assert claim(n.id) is False  # a second worker, or a duplicate enqueue, gets nothing
    assert deliver(n.id) is None


def test_duplicate_enqueues_send_once(db, smtp_server, app):
    from tests.notifications.helpers import channel_config

    with channel_config(
        app, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port
    ):
        n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
        commit_unit_of_work()
        for _ in range(3):
            assert deliver(n.id) is None
            commit_unit_of_work()
    assert len(smtp_server.messages) == 1


def test_unknown_template_or_channel_is_a_programming_error(db):
    with pytest.raises(ValueError, match="has no sms version"):
        notify("welcome", to="+447700900123", channel="sms")
    with pytest.raises(ValueError, match="unknown channel"):
        notify("welcome", to="a@b.c", channel="pigeon")


def test_marketing_is_opt_in_and_recorded_as_suppressed(db):
    vars_ = {"name": "Ada", "headline": "Hi", "body_text": "News", "shop_url": "https://x/"}
    n = notify("newsletter", to="ada@example.com", user_id=7, category="marketing", variables=vars_)
    assert n.status == Status.SUPPRESSED
    set_preference(7, "email", "marketing", True)
    m = notify("newsletter", to="ada@example.com", user_id=7, category="marketing", variables=vars_)
    assert m.status == Status.QUEUED


def test_transactional_email_cannot_be_switched_off_but_sms_is_opt_in(db):
    with pytest.raises(ValueError, match="cannot be switched off"):
        set_preference(7, "email", "transactional", False)
    assert is_allowed("+447700900123", 7, "sms", "transactional") is False
    set_preference(7, "sms", "transactional", True)
    assert is_allowed("+447700900123", 7, "sms", "transactional") is True


def test_unsubscribed_address_is_suppressed_even_without_an_account(db):
    assert unsubscribe("Ada@Example.com", "marketing") is True
    assert unsubscribe("ada@example.com", "marketing") is False  # idempotent
    assert is_allowed("ada@example.com", None, "email", "marketing") is False
    assert is_allowed("ada@example.com", None, "email", "transactional") is True


def test_backoff_grows_exponentially_with_jitter(app):
    with app.app_context():
        delays = [backoff(n).total_seconds() for n in range(1, 6)]
    base = app.config["NOTIFY_BACKOFF_SECONDS"]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = base * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling


def test_sweeper_recovers_rows_a_crashed_worker_left_sending(db, app):
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    db.session.flush()
    assert claim(n.id)  # the worker claimed it... and died before sending
    timeout = app.config["NOTIFY_SENDING_TIMEOUT"]
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id == n.id)
        .values(
            claimed_at=utcnow() - timedelta(seconds=timeout + 1),
            updated_at=utcnow() - timedelta(seconds=120),
        )
    )
    sweep()
    commit_unit_of_work()  # the sweeper's enqueue runs after its commit (immediate in tests)
    recovered = fresh(n.id)
    assert recovered.status == Status.SENT
    assert recovered.attempts == 2


def test_sweeper_enqueues_rows_whose_task_was_lost(db):
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    db.session.flush()
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id == n.id)
        .values(updated_at=utcnow() - timedelta(minutes=5))
    )
    rollback_sends = sweep()
    assert rollback_sends == 1
    commit_unit_of_work()
    assert fresh(n.id).status == Status.SENT


def test_scheduled_notification_waits_for_its_time(db):
    later = utcnow() + timedelta(hours=2)
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS, scheduled_for=later)
    commit_unit_of_work()
    assert fresh(n.id).status == Status.QUEUED
    assert claim(n.id) is False
    assert sweep() == 0


def test_retry_puts_dead_letters_back(db):
    n = notify("order-delivered", to="ada@example.com", variables=ORDER_VARS)
    db.session.flush()
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id == n.id)
        .values(status=Status.DEAD, attempts=6, last_error="boom")
    )
    assert retry([n.id]) == 1
    commit_unit_of_work()
    again = fresh(n.id)
    assert again.status == Status.SENT and again.attempts == 1


def test_bulk_send_respects_preferences_in_batches(db):
    set_preference(2, "email", "marketing", True)
    recipients = [("a@example.com", 1), ("b@example.com", 2), ("c@example.com", None)]
    vars_ = {"name": "friend", "headline": "Sale", "body_text": "50% off", "shop_url": "https://x/"}
    result = send_bulk("newsletter", recipients, "marketing", vars_, batch_size=2)
    assert result() == 3
    rows = dict(db.session.execute(sa.select(Notification.to_address, Notification.status)).all())
    assert rows == {
        "a@example.com": "suppressed",
        "b@example.com": "sent",
        "c@example.com": "suppressed",
    }

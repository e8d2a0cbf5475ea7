"""Delivery over real protocols on loopback: SMTP (aiosmtpd) and a Brevo-compatible API."""

import pytest
import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.notifications.models import Notification, Status
from app.notifications.samples import SAMPLES
from app.notifications.services import notify
from app.notifications.tasks import deliver
from tests.notifications.conftest import free_port
from tests.notifications.helpers import channel_config, fresh, make_due


def smtp(app, port, **extra):
    return channel_config(
        app,
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        NOTIFY_HTTP_TIMEOUT=2.0,
        **extra,
    )


def test_smtp_delivers_a_multipart_message_carrying_the_variables(app, db, smtp_server):
    with smtp(app, smtp_server.port, MAIL_FROM="Linen & Co <hello@Linen-Shop.example>"):
        n = notify(
            "order-confirmation", to="ada@example.com", variables=SAMPLES["order-confirmation"]
        )
        commit_unit_of_work()
    assert fresh(n.id).status == Status.SENT
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Order SS-8K3J-Q2XF confirmed"
    # On the shop's own domain, the sender's (RFC 5322), not a made-up one.
    assert message["Message-ID"] == f"<notification-{n.id}@linen-shop.example>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert "SS-8K3J-Q2XF" in part and "Merino Wool Jumper" in part and "€112.05" in part


def test_marketing_email_has_one_click_unsubscribe_headers(app, db, smtp_server):
    from app.notifications.services import set_preference

    set_preference(3, "email", "marketing", True)
    with smtp(app, smtp_server.port):
        notify(
            "newsletter",
            to="ada@example.com",
            user_id=3,
            category="marketing",
            variables=SAMPLES["newsletter"],
        )
        commit_unit_of_work()
    [message] = smtp_server.messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(app.config["SHOP_BASE_URL"] + "/unsubscribe/")
    assert link in message.get_body(preferencelist=("plain",)).get_content()


def test_provider_down_retries_then_dies_then_alerts_staff_once(app, db):
    dead_port = free_port()  # nothing listens here
    with smtp(app, dead_port, NOTIFY_MAX_ATTEMPTS=3, STAFF_ALERT_EMAILS=["ops@example.com"]):
        n = notify("order-delivered", to="ada@example.com", variables=SAMPLES["order-delivered"])
        commit_unit_of_work()
        row = fresh(n.id)
        assert (row.status, row.attempts) == (Status.FAILED, 1)
        assert "SMTP unavailable" in row.last_error
        assert row.next_attempt_at is not None
        for _attempt in (2, 3):
            make_due(n.id)
            assert deliver(n.id) in {Status.FAILED, Status.DEAD}
            commit_unit_of_work()
        row = fresh(n.id)
        assert (row.status, row.attempts) == (Status.DEAD, 3)
        alerts = (
            db.session.execute(
                sa.select(Notification).where(Notification.template == "dead-letter-alert")
            )
            .scalars()
            .all()
        )
        assert [a.to_address for a in alerts] == ["ops@example.com"]
        assert alerts[0].category == "staff"


def test_recovered_provider_sends_exactly_once(app, db, smtp_server):
    smtp_server.fail_with = "451 4.3.0 Try again later"
    with smtp(app, smtp_server.port):
        n = notify("order-delivered", to="ada@example.com", variables=SAMPLES["order-delivered"])
        commit_unit_of_work()
        assert fresh(n.id).status == Status.FAILED
        smtp_server.fail_with = None
        make_due(n.id)
        assert deliver(n.id) == Status.SENT
        commit_unit_of_work()
        make_due(n.id)
        assert deliver(n.id) is None  # already sent: never again
    assert len(smtp_server.messages) == 1


def test_permanent_refusal_goes_dead_at_once(app, db, smtp_server):
    smtp_server.fail_with = "550 5.1.1 No such user"
    with smtp(app, smtp_server.port):
        n = notify("order-delivered", to="nobody@example.com", variables=SAMPLES["order-delivered"])
        commit_unit_of_work()
    row = fresh(n.id)
    assert (row.status, row.attempts) == (Status.DEAD, 1)


def test_circuit_breaker_stops_calling_a_dead_provider(app, db):
    dead_port = free_port()
    with smtp(app, dead_port, NOTIFY_MAX_ATTEMPTS=20):
        ids = [
            notify(
                "order-delivered", to=f"u{i}@example.com", variables=SAMPLES["order-delivered"]
            ).id
            for i in range(7)
        ]
        commit_unit_of_work()
        errors = [fresh(i).last_error for i in ids]
    assert all(fresh(i).status == Status.FAILED for i in ids)  # nothing lost
    assert errors[:5] == ["SMTP unavailable: ConnectionRefusedError"] * 4 + [errors[4]]
    assert errors[-1] == "smtp circuit open"


def brevo(app, fake, channel="email"):
    key = {"email": "MAIL_BACKEND", "sms": "SMS_BACKEND", "whatsapp": "WHATSAPP_BACKEND"}[channel]
    return channel_config(
        app,
        **{key: "brevo"},
        BREVO_API_KEY="xkeysib-test",
        BREVO_API_BASE=fake.url,
        NOTIFY_HTTP_TIMEOUT=2.0,
        WHATSAPP_SENDER="353861234567",
    )


def test_brevo_email_api(app, db, brevo_server):
    with brevo(app, brevo_server):
        n = notify("order-shipped", to="ada@example.com", variables=SAMPLES["order-shipped"])
        commit_unit_of_work()
    row = fresh(n.id)
    assert (row.status, row.provider, row.provider_message_id) == (
        Status.SENT,
        "brevo",
        "<brevo-1@relay>",
    )
    [(path, headers, body)] = brevo_server.requests
    assert path == "/v3/smtp/email"
    assert headers["api-key"] == "xkeysib-test"
    assert body["to"] == [{"email": "ada@example.com"}]
    assert "JD014600003828" in body["textContent"] and "JD014600003828" in body["htmlContent"]


@pytest.mark.parametrize(
    ("channel", "path"),
    [("sms", "/v3/transactionalSMS/send"), ("whatsapp", "/v3/whatsapp/sendMessage")],
)
def test_brevo_sms_and_whatsapp(app, db, brevo_server, channel, path):
    from app.notifications.services import set_preference

    set_preference(9, channel, "transactional", True)
    with brevo(app, brevo_server, channel):
        n = notify(
            "order-shipped",
            to="+447700900123",
            user_id=9,
            channel=channel,
            variables=SAMPLES["order-shipped"],
        )
        commit_unit_of_work()
    assert fresh(n.id).status == Status.SENT
    [(got_path, _, body)] = brevo_server.requests
    assert got_path == path
    assert "JD014600003828" in (body.get("content") or body.get("text"))


@pytest.mark.parametrize(
    ("status", "outcome"), [(500, Status.FAILED), (429, Status.FAILED), (400, Status.DEAD)]
)
def test_brevo_errors(app, db, brevo_server, status, outcome):
    brevo_server.status = status
    with brevo(app, brevo_server):
        n = notify("order-shipped", to="ada@example.com", variables=SAMPLES["order-shipped"])
        commit_unit_of_work()
    assert fresh(n.id).status == outcome

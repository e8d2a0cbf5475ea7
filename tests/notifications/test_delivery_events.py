"""Brevo's delivery events: only calls carrying the webhook's bearer token are read (Brevo
does not sign payloads); events are stored once however often they are delivered; a hard
bounce stops all further e-mail to the address and a spam complaint stops marketing; staff
see the rates per template."""

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.notifications.models import DeliveryEvent, Status, Suppression
from app.notifications.samples import SAMPLES
from app.notifications.services import notify
from tests.admin.helpers import sign_in_staff
from tests.notifications.helpers import fresh

TOKEN = "whk-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sent_email(to="ada@example.com", template="order-shipped"):
    n = notify(template, to=to, variables=SAMPLES[template])
    commit_unit_of_work()
    return fresh(n.id)


def event(name, notification, ts=1765000000, **extra):
    return {
        "event": name,
        "email": notification.to_address,
        "id": 991,
        "date": "2026-12-06 03:00:00",
        "ts": ts,
        "ts_event": ts,
        "message-id": notification.provider_message_id or "<x@relay>",
        "X-Mailin-custom": f"notification:{notification.id}",
        **extra,
    }


def post(client, payload, headers=AUTH):
    return client.post("/webhooks/brevo", json=payload, headers=headers)


def test_only_calls_with_the_webhooks_token_are_read(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    n = sent_email()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        assert post(client, event("hard_bounce", n), headers).status_code == 401
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", None)
    assert post(client, event("hard_bounce", n)).status_code == 401  # not configured: closed
    assert db.session.execute(sa.select(sa.func.count()).select_from(DeliveryEvent)).scalar() == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(Suppression)).scalar() == 0


def test_a_hard_bounce_stops_all_further_email_to_the_address(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    n = sent_email()
    assert post(client, event("hard_bounce", n, reason="550 no such user")).status_code == 204
    assert post(client, event("hard_bounce", n, reason="550 no such user")).status_code == 204
    [stored] = db.session.execute(sa.select(DeliveryEvent)).scalars().all()  # once
    assert (stored.notification_id, stored.event, stored.detail) == (
        n.id,
        "hard_bounce",
        "550 no such user",
    )
    again = sent_email()  # even an order e-mail, which cannot be switched off
    assert again.status == Status.SUPPRESSED
    other = sent_email(to="bob@example.com")
    assert other.status == Status.SENT


def test_a_complaint_stops_marketing_but_not_order_email(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    n = sent_email()
    assert post(client, [event("spam", n), event("opened", n, ts=1765000100)]).status_code == 204
    reasons = db.session.execute(sa.select(Suppression.category, Suppression.reason)).all()
    assert reasons == [("marketing", "spam_complaint")]
    assert sent_email().status == Status.SENT


def test_hostile_payloads_are_400s(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    n = sent_email()
    for payload in (
        "just text",
        [],
        [1, 2],
        {"event": "", "message-id": "<x@y>", "ts": 1},
        {"event": "delivered", "ts": 1},
        {**event("delivered", n), "ts": 10**30, "ts_event": "soon"},
        [event("delivered", n)] * 501,
    ):
        assert post(client, payload).status_code == 400, str(payload)[:60]
    assert client.post("/webhooks/brevo", data=b"\xff\xfe", headers=AUTH).status_code == 400


def test_staff_see_the_rates_per_template(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    first, second = sent_email(), sent_email(to="bob@example.com")
    post(client, [event("delivered", first), event("delivered", second, ts=1765000001)])
    post(client, [event("opened", first), event("click", first, link="https://x.example/")])
    staff = app.test_client()
    sign_in_staff(staff)
    page = staff.get("/admin/notifications/delivery").get_data(as_text=True)
    assert "order-shipped" in page
    assert "2 <small>(100.0 %)</small>" in page  # delivered
    assert "1 <small>(50.0 %)</small>" in page  # opened, clicked


def test_an_event_the_shop_does_not_know_never_holds_up_a_batch(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "BREVO_WEBHOOK_TOKEN", TOKEN)
    n = sent_email()
    response = post(client, [event("some_future_event", n), event("hard_bounce", n)])
    assert response.status_code == 204
    assert db.session.execute(sa.select(Suppression.reason)).scalars().all() == ["hard_bounce"]

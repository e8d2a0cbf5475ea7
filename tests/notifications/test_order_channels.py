"""Order events reach every channel the customer opted into that has a number: e-mail always,
SMS and WhatsApp when chosen; each channel is its own outbox row, so one failing never holds
up another. Through the outbox in development and a fake Brevo that keeps Brevo's rules."""

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.extensions import db
from app.notifications.models import Notification, Status
from app.notifications.services import set_preference
from tests.accounts.helpers import login, make_user
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, sandbox_action, submit_details
from tests.notifications.helpers import channel_config

PHONE = "+353861234567"


def shopper(client, *, sms=False, whatsapp=False, phone=PHONE):
    user = make_user("grace@example.com")
    user.phone = phone
    if sms:
        set_preference(user.id, "sms", "transactional", True)
    if whatsapp:
        set_preference(user.id, "whatsapp", "transactional", True)
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    login(client, "grace@example.com")
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="grace@example.com")
    return user


def confirmations():
    db.session.expire_all()
    return {
        n.channel: n
        for n in db.session.execute(
            sa.select(Notification).where(Notification.template == "order-confirmation")
        ).scalars()
    }


def test_a_shopper_opted_into_sms_gets_the_confirmation_by_sms_too(client, db):
    shopper(client, sms=True)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    sent = confirmations()
    assert set(sent) == {"email", "sms"}
    sms = sent["sms"]
    assert (sms.to_address, sms.status, sms.provider) == (PHONE, Status.SENT, "outbox")
    assert sms.variables["order_number"] == latest_order().number


def test_through_brevo_the_sms_is_a_transactional_sms_to_the_number(app, client, db):
    from tests.fakes.brevo import FakeBrevo

    fake = FakeBrevo()
    fake.thread.start()
    try:
        with channel_config(
            app, SMS_BACKEND="brevo", BREVO_API_KEY="xkeysib-test", BREVO_API_BASE=fake.url
        ):
            shopper(client, sms=True)
            sandbox_action(client, pay(client).headers["Location"], "pay")
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    assert fake.refusals == []
    [body] = fake.sent("/transactionalSMS/send")
    number = latest_order().number
    assert (body["recipient"], body["sender"], body["type"]) == (
        "353861234567",
        "ShopSphere",
        "transactional",
    )
    assert number in body["content"]
    assert confirmations()["sms"].provider_message_id.isdigit()


def test_only_the_channels_chosen_and_never_without_a_number(app, client, db):
    shopper(client, whatsapp=True)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    assert set(confirmations()) == {"email", "whatsapp"}
    suppressed = db.session.execute(
        sa.select(sa.func.count()).where(Notification.status == Status.SUPPRESSED)
    ).scalar_one()
    assert suppressed == 0  # channels nobody chose leave no rows behind


def test_no_number_no_sms(client, db):
    shopper(client, sms=True, phone="")
    sandbox_action(client, pay(client).headers["Location"], "pay")
    assert set(confirmations()) == {"email"}


def test_a_failing_sms_provider_never_holds_up_the_email(app, client, db):
    from tests.fakes.brevo import FakeBrevo

    fake = FakeBrevo()
    fake.status = 503
    fake.thread.start()
    try:
        with channel_config(
            app, SMS_BACKEND="brevo", BREVO_API_KEY="xkeysib-test", BREVO_API_BASE=fake.url
        ):
            shopper(client, sms=True)
            sandbox_action(client, pay(client).headers["Location"], "pay")
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    sent = confirmations()
    assert sent["email"].status == Status.SENT
    assert sent["sms"].status == Status.FAILED  # retried later with backoff

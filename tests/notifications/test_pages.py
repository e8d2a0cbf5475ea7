import re

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.notifications.models import Suppression
from app.notifications.rendering import unsubscribe_token
from app.notifications.samples import SAMPLES
from app.notifications.services import is_allowed, notify
from tests.tokens import forged


def test_unsubscribe_link_asks_then_unsubscribes(app, client, db):
    with app.app_context():
        token = unsubscribe_token("ada@example.com", "marketing")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Unsubscribe from news and offers?" in html and "ada@example.com" in html
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    done = client.post(f"/unsubscribe/{token}", data={"csrf_token": csrf})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert is_allowed("ada@example.com", None, "email", "marketing") is False


def test_one_click_post_from_a_mail_client_needs_no_session(app, client, db):
    with app.app_context():
        token = unsubscribe_token("bob@example.com", "marketing")
    for _ in range(2):  # idempotent
        response = client.post(
            f"/unsubscribe/{token}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
    rows = db.session.execute(
        sa.select(sa.func.count()).where(Suppression.address == "bob@example.com")
    ).scalar_one()
    assert rows == 1


def test_tampered_unsubscribe_token_is_refused(app, client, db):
    with app.app_context():
        token = unsubscribe_token("ada@example.com", "marketing")
    response = client.post(f"/unsubscribe/{forged(token)}")
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Suppression)).scalar() == 0


def test_development_outbox_shows_sent_messages_rendered_on_view(client, db):
    n = notify("order-shipped", to="ada@example.com", variables=SAMPLES["order-shipped"])
    commit_unit_of_work()
    listing = client.get("/dev/outbox").get_data(as_text=True)
    assert "order-shipped" in listing and "sent" in listing
    detail = client.get(f"/dev/outbox/{n.id}").get_data(as_text=True)
    assert "Order SS-8K3J-Q2XF is on its way" in detail and "JD014600003828" in detail
    frame = client.get(f"/dev/outbox/{n.id}/html")
    assert "JD014600003828" in frame.get_data(as_text=True)
    assert "sandbox" in frame.headers["Content-Security-Policy"]


def test_every_template_has_a_preview(client, db):
    index = client.get("/dev/notifications").get_data(as_text=True)
    for name in SAMPLES:
        assert f'href="/dev/notifications/{name}"' in index
        assert client.get(f"/dev/notifications/{name}").status_code == 200
        assert client.get(f"/dev/notifications/{name}/html").status_code == 200
    assert client.get("/dev/notifications/nope").status_code == 404


def test_development_pages_do_not_exist_in_production(app, client, db):
    app.config["SHOP_ENV"] = "production"
    try:
        assert client.get("/dev/outbox").status_code == 404
        assert client.get("/dev/notifications").status_code == 404
    finally:
        app.config["SHOP_ENV"] = "testing"


def test_cli_send_test_and_retry(app, db):
    from app.notifications.models import Notification

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "shop",
            "notifications",
            "send-test",
            "--to",
            "ada@example.com",
            "--template",
            "order-confirmation",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Queued notification" in result.output
    bad = runner.invoke(
        args=["shop", "notifications", "send-test", "--to", "x@example.com", "--template", "nope"]
    )
    assert bad.exit_code != 0 and "choose one of" in bad.output
    db.session.execute(sa.update(Notification).values(status="dead"))
    retried = runner.invoke(args=["shop", "notifications", "retry", "--all-dead"])
    assert retried.exit_code == 0 and "Queued 1 notification(s) again." in retried.output
    neither = runner.invoke(args=["shop", "notifications", "retry"])
    assert neither.exit_code != 0

import pytest

from app.notifications.models import Channel
from app.notifications.rendering import TemplateError, render, template_channels, template_names
from app.notifications.samples import SAMPLES, sample_notification

REQUIRED = {
    "welcome",
    "verify-email",
    "password-reset",
    "email-changed",
    "order-confirmation",
    "payment-failed",
    "order-shipped",
    "order-delivered",
    "order-cancelled",
    "refund-issued",
    "low-stock",
    "dead-letter-alert",
    "back-in-stock",
    "cart-recovery",
    "review-request",
    "return-requested",
    "return-approved",
    "return-refused",
    "return-received",
}


def test_every_required_template_exists_with_sample_data():
    assert set(template_names()) >= REQUIRED
    assert set(template_names()) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(REQUIRED | {"newsletter"}))
def test_email_renders_multipart_with_inlined_css(app, name):
    with app.app_context():
        message = render(sample_notification(name))
    assert message.subject and "\n" not in message.subject
    assert message.text.strip()
    assert message.html.startswith("<!DOCTYPE html>") or message.html.lower().startswith(
        "<!doctype"
    )
    assert "<style" not in message.html  # inlined by css-inline
    assert 'style="' in message.html
    assert "ShopSphere" in message.text  # footer


def test_variables_are_personalised(app):
    with app.app_context():
        message = render(sample_notification("order-confirmation"))
    for part in (message.text, message.html):
        assert "SS-8K3J-Q2XF" in part
        assert "Merino Wool Jumper" in part
        assert "€112.05" in part  # total from integer cents
        assert "WELCOME10" in part and "€11.90" in part  # the discount line
        assert "Ada" in part


@pytest.mark.parametrize("name", ["order-confirmation", "order-shipped", "payment-failed"])
def test_sms_versions_are_short_text(app, name):
    assert Channel.SMS in template_channels(name)
    with app.app_context():
        message = render(sample_notification(name, to="+447700900123", channel=Channel.SMS))
    assert message.html == "" and message.subject == ""
    assert len(message.text) <= 320 and "SS-8K3J-Q2XF" in message.text


def test_missing_variable_fails_loudly(app):
    notification = sample_notification("order-shipped")
    del notification.variables["tracking_number"]
    with app.app_context(), pytest.raises(TemplateError, match="tracking_number"):
        render(notification)


def test_variables_are_escaped_in_html(app):
    notification = sample_notification("welcome")
    notification.variables["name"] = "<script>alert(1)</script>"
    with app.app_context():
        message = render(notification)
    assert "<script>alert(1)</script>" not in message.html
    assert "&lt;script&gt;" in message.html

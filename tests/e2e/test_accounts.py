"""The account journey in Chromium: sign up, confirm by email, lockout, reset by email."""

import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
PASSWORD = "lanterns drift over the harbour"
NEW_PASSWORD = "copper kettles sing at dawn"


def open_latest_email(page, base, to, subject):
    page.goto(base + "/dev/outbox")
    row = page.get_by_role("row").filter(has_text=to).filter(has_text=subject).first
    row.get_by_role("link").click()
    text = page.locator(".email-text").inner_text()
    return re.search(r"https?://\S+", text.split("\n\n", 1)[-1]).group(0)


def test_signup_verify_lockout_and_reset(page, live_server, problems):
    base = live_server.url
    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    page.goto(base + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(base + "/")  # back where the shopper started
    expect(page.get_by_text(f"We sent a link to {email}")).to_be_visible()
    page.goto(base + "/account")
    expect(page.get_by_text("Please confirm your email address")).to_be_visible()

    link = open_latest_email(page, base, email, "verify-email")
    page.goto(link)
    expect(page.get_by_text("your email address is confirmed")).to_be_visible()
    expect(page.get_by_text("Please confirm your email address")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    page.goto(base + "/account/login")
    for attempt in range(5):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(f"wrong password number {attempt}")
        page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed sign-in attempts. Try again in 30 minutes")

    page.get_by_role("link", name="Reset your password").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("If an account exists for that address")).to_be_visible()

    reset_link = open_latest_email(page, base, email, "password-reset")
    page.goto(reset_link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_text("Your password was changed and you are signed in")).to_be_visible()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    problems.assert_clean()


def test_weak_password_is_explained_in_the_form(page, live_server, problems):
    page.goto(live_server.url + "/account/signup")
    page.get_by_label("Your name").fill("Test Person")
    page.get_by_label("Email").fill(f"t-{uuid.uuid4().hex[:6]}@example.com")
    page.get_by_label("Password").fill("password1")
    page.get_by_role("button", name="Create account").click()
    expect(
        page.locator(".field-error", has_text="This password is too easy to guess.")
    ).to_be_visible()
    # The error summary at the top has the focus and links to the field.
    summary_link = page.get_by_role("link", name="Password: This password is too easy to guess.")
    expect(page.locator(".error-summary")).to_be_focused()
    summary_link.click()
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    problems.assert_clean()

"""A staff member must enrol TOTP before reaching the staff area."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def test_staff_enrols_two_factor_before_reaching_admin(page, live_server, problems):
    base = live_server.url
    response = page.goto(base + "/admin/")
    assert response.status == 404  # not signed in: no hint the staff area exists
    problems.console_errors.clear()  # the browser logs that expected 404

    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("staff@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
    # Said once (it used to appear twice: a flash over the page's own notice).
    expect(page.get_by_text("Staff accounts must use two-factor authentication")).to_have_count(1)
    expect(page.get_by_text("Staff accounts need two-factor authentication")).to_have_count(0)
    page.goto(base + "/admin/")
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))  # still gated
    expect(page.get_by_text("Staff accounts must use two-factor authentication")).to_have_count(1)

    expect(page.locator("svg").first).to_be_visible()  # the QR code
    secret = page.locator(".totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )

    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Staff dashboard")).to_be_visible()
    expect(page.get_by_text("with two-factor authentication")).to_be_visible()
    problems.assert_clean()

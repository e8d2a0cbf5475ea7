"""Signing in without a password, in Chromium: a link from the email signs in once and never
again; a passkey made with Chromium's virtual authenticator is added on the account's
passkeys page and then signs in on the sign-in page."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_accounts import PASSWORD, open_latest_email

pytestmark = pytest.mark.e2e


def sign_up(page, base: str, name: str) -> str:
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
    page.goto(base + "/account/signup")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Welcome, {name}!")).to_be_visible()
    return email


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_an_emailed_link_signs_in_once_and_never_again(page, live_server, problems, tmp_path):
    base = live_server.url
    email = sign_up(page, base, "Ada Lovelace")
    sign_out(page)

    page.goto(base + "/account/login")
    page.get_by_role("link", name="Email me a sign-in link instead").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Email").press("Enter")
    expect(page.get_by_text("If a customer account exists for that address")).to_be_visible()

    link = open_latest_email(page, base, email, "sign-in-link")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in to")).to_be_visible()
    page.screenshot(path=str(tmp_path / "sign-in-link-390.png"))
    page.goto(base + "/account")  # opening the link signed nobody in
    expect(page).to_have_url(base + "/account/login?next=%2Faccount")

    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are signed in with the link we emailed you")).to_be_visible()
    sign_out(page)
    problems.assert_clean()

    page.goto(link)  # a 400 page, as the browser's console notes
    expect(page.get_by_role("heading", name="This link was used already")).to_be_visible()
    page.get_by_role("link", name="Email me a new sign-in link").click()
    expect(page.get_by_role("heading", name="Sign in with a link")).to_be_visible()
    assert problems.csp_violations() == []


def test_a_passkey_is_added_and_then_signs_in(page, live_server, problems, tmp_path):
    # A relying party is a domain, never an IP address: the shop at localhost (the same
    # server as 127.0.0.1), whose passkeys belong to "localhost" (app/accounts/passkeys.py).
    base = live_server.url.replace("127.0.0.1", "localhost")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    sign_up(page, base, "Grace Hopper")
    page.goto(base + "/account")
    page.get_by_role("link", name="Passkeys").click()
    expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
    page.get_by_label("A name to recognise it by").fill("Work laptop")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Passkey “Work laptop” added")).to_be_visible()
    expect(page.get_by_role("cell", name="Work laptop", exact=True)).to_be_visible()
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    sign_out(page)

    page.goto(base + "/account/login")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_text("You are signed in with your passkey")).to_be_visible()
    page.goto(base + "/account/passkeys")
    expect(page.get_by_role("cell", name="Work laptop", exact=True)).to_be_visible()
    expect(page.get_by_text("Never")).to_have_count(0)  # last used: just now
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "passkeys-390.png"), full_page=True)
    problems.assert_clean()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_new_account_pages_pass_the_wcag_check_and_fit(browser, live_server, width):
    from tests.e2e.test_accessibility import violations
    from tests.e2e.test_layout import OVERFLOW

    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_up(page, live_server.url, "Mary Somerville")
    found = []
    for path in ("/account/passkeys", "/account/cards", "/account/profile", "/account"):
        found += violations(page, live_server.url, path)
        overflow = page.evaluate(OVERFLOW)
        if overflow["page"] > 0 or overflow["tables"]:
            found.append(f"{path} overflows at {width}px: {overflow}")
    context.close()
    assert not found, "\n".join(found)

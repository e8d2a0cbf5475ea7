"""Cart journeys in Chromium, with htmx and with JavaScript switched off."""

import re

import pytest
from playwright.sync_api import expect

from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def mini_cart(page):
    return page.locator("#mini-cart .badge-count >> visible=true")


def sign_in(page, base):
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def empty_account_cart(page, base):
    sign_in(page, base)
    page.goto(base + "/cart")
    if page.get_by_role("button", name="Empty cart").count():
        page.get_by_role("button", name="Empty cart").click()
        expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()


def journey(page, base, *, js: bool):
    empty_account_cart(page, base)
    # From a listing card (single-variant product).
    page.goto(base + "/products?q=speckled")
    add_button = page.get_by_role(
        "button", name=re.compile(r"^Add to cart\s*: Speckled Stoneware Mug$")
    )
    add_button.focus()
    page.keyboard.press("Enter")
    expect(mini_cart(page)).to_have_text("1")
    expect(page.get_by_text("Added Speckled Stoneware Mug — 1 in your cart.")).to_be_visible()
    expect(page.get_by_role("link", name="View cart")).to_be_visible()
    if js:  # the add button was disabled during the request; the keyboard stays on it
        expect(add_button).to_be_focused()
    # From the product page, a chosen variant, over the stock cap (2 left of M).
    page.goto(base + "/products/merino-wool-jumper")
    page.get_by_label("Quantity").fill("5")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(
        page.get_by_text("Only 2 of Merino Wool Jumper left, so your cart has 2.")
    ).to_be_visible()
    expect(mini_cart(page)).to_have_text("3")

    page.goto(base + "/cart")
    mug_qty = page.get_by_label("Quantity of Speckled Stoneware Mug")
    expect(mug_qty).to_have_value("1")
    more = page.get_by_role("button", name="One more Speckled Stoneware Mug")
    more.focus()
    page.keyboard.press("Enter")
    expect(mug_qty).to_have_value("2")
    if js:  # the swap kept the keyboard where it was
        expect(page.get_by_role("button", name="One more Speckled Stoneware Mug")).to_be_focused()

    # Typing a quantity and pressing Enter sends that quantity (not the "−" button).
    def type_quantity(value: str) -> None:
        field = page.get_by_label("Quantity of Speckled Stoneware Mug")
        field.fill(value)
        if js:  # wait for the answer, so the next step acts on the swapped-in cart
            with page.expect_response(lambda r: r.url.endswith("/quantity")):
                field.press("Enter")
        else:
            field.press("Enter")

    type_quantity("4")
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_have_value("4")
    if js:
        expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_be_focused()
        expect(page.get_by_role("button", name="Update")).to_have_count(0)  # no-JS only
    type_quantity("2")
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_have_value("2")
    type_quantity("12")
    expect(page.get_by_text("Quantity must be a whole number from 1 to 10.")).to_be_visible()
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_have_value("2")
    page.get_by_role("button", name=re.compile(r"^Save for later\s*: Merino Wool Jumper$")).click()
    expect(page.get_by_role("heading", name="Saved for later")).to_be_visible()
    expect(mini_cart(page)).to_have_text("2")

    # Signing in merges the guest cart into the account's cart.
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(
        page.get_by_text("We added 1 item from before you signed in to your cart.")
    ).to_be_visible()
    page.goto(base + "/cart")
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_have_value("2")
    expect(page.get_by_role("heading", name="Saved for later")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Move to cart\s*: Merino Wool Jumper$")).click()
    expect(page.get_by_label("Quantity of Merino Wool Jumper")).to_have_value("1")
    expect(mini_cart(page)).to_have_text("3")
    page.get_by_role("button", name="Sign out").click()


def test_cart_journey_with_htmx(page, live_server, problems):
    page.evaluate("1")  # page exists
    journey(page, live_server.url, js=True)
    problems.assert_clean()


def test_cart_journey_without_javascript(no_js_page, live_server):
    journey(no_js_page, live_server.url, js=False)
    assert re.search(r"/", no_js_page.url)

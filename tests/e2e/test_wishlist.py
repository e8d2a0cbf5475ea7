"""A shopper saves a product to the wishlist from its card (htmx toggle, focus kept), finds
it on the wishlist page and moves it to the cart; a guest is sent to sign in and back."""

import re

import pytest
from playwright.sync_api import expect

from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def test_save_from_a_card_then_move_to_the_cart(page, live_server, problems):
    base = live_server.url
    page.goto(base + "/products?q=speckled")
    save = page.get_by_role(
        "button", name=re.compile(r"Save Speckled Stoneware Mug to your wishlist")
    )
    save.click()
    expect(page).to_have_url(re.compile(r"/account/login\?next=/products/"))  # guests sign in
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Speckled Stoneware Mug")).to_be_visible()  # back

    page.goto(base + "/products?q=speckled")
    save = page.get_by_role("button", name=re.compile(r"Speckled Stoneware Mug to your wishlist"))
    expect(save).to_have_attribute("aria-pressed", "false")
    save.focus()
    page.keyboard.press("Enter")
    saved = page.get_by_role("button", name=re.compile(r"Speckled Stoneware Mug to your wishlist"))
    expect(saved).to_have_attribute("aria-pressed", "true")
    expect(saved).to_be_focused()  # the swapped button keeps the keyboard's place
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/wishlist-card-390.png")

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Your wishlist").click()
    expect(page.get_by_role("heading", name="Your wishlist")).to_be_visible()
    page.screenshot(path="/tmp/wishlist-page-390.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the wishlist scrolls sideways at 390 px ({width} px)"
    page.get_by_role("button", name=re.compile(r"Move to cart.*Speckled Stoneware Mug")).click()
    expect(page.get_by_text("Moved Speckled Stoneware Mug to your cart.")).to_be_visible()
    expect(page.get_by_text("Your wishlist is empty.")).to_be_visible()
    page.goto(base + "/cart")
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_be_visible()
    problems.assert_clean()

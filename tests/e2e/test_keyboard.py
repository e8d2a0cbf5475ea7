"""A shopper with a keyboard only: choose an option, add two items, open the header cart,
change a quantity by typing, accept the terms and pay — the focus never falls to <body>, and
each change is said in the page's status region."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ON_BODY = "() => !document.activeElement || document.activeElement === document.body"


def tab_to(page, target, *, limit: int, backwards: bool = False) -> int:
    """Press Tab (or Shift+Tab) until ``target`` has the focus; how many presses it took."""
    handle = target.element_handle()
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("(el) => document.activeElement === el", handle):
            return presses
    raise AssertionError(f"{target} not reached in {limit} presses of Tab")


def status(page):
    return page.locator("#flash-messages")


def test_keyboard_only_shopper_adds_two_items_changes_a_quantity_and_pays(
    page, live_server, problems
):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})

    # A product with two options: arrow keys choose, the panel follows, focus stays.
    page.goto(base + "/products/waxed-field-jacket")
    sizes = page.get_by_role("group", name=re.compile("^Size"))
    tab_to(page, sizes.get_by_role("radio", name="S", exact=True), limit=40)
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("SKU: WFJ-OM")).to_be_visible()
    expect(sizes.get_by_role("radio", name="M sold out", exact=True)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("SKU: WFJ-OL")).to_be_visible()
    expect(sizes.get_by_role("radio", name="L", exact=True)).to_be_focused()
    add = page.locator("#variant-panel").get_by_role("button", name="Add to cart")
    assert tab_to(page, add, limit=5) <= 3  # colour, quantity, Add
    page.keyboard.press("Enter")
    # Said (and shown) beside the button, in the form's status region.
    feedback = page.locator("#variant-panel .add-feedback[role=status]")
    expect(feedback).to_contain_text(
        "Added Waxed Field Jacket, size: L, colour: Olive — 1 in your cart. View cart"
    )
    expect(add).to_be_focused()

    # A second item from a listing card.
    page.goto(base + "/products?q=speckled")
    card_add = page.get_by_role(
        "button", name=re.compile(r"^Add to cart\s*: Speckled Stoneware Mug$")
    )
    tab_to(page, card_add, limit=60)
    page.keyboard.press("Enter")
    card = page.locator(".product-card", has=card_add)
    expect(card.locator(".add-feedback[role=status]")).to_contain_text(
        "Added Speckled Stoneware Mug — 1 in your cart."
    )
    expect(card_add).to_be_focused()

    # The header cart opens with Enter and lists both lines with the subtotal.
    summary = page.locator("details.mini-cart > summary")
    tab_to(page, summary, limit=80, backwards=True)
    page.keyboard.press("Enter")
    panel = page.locator("#mini-cart-panel")
    expect(panel).to_contain_text("Your cart · 2 items")
    expect(panel).to_contain_text("Waxed Field Jacket")
    expect(panel).to_contain_text("Speckled Stoneware Mug")
    expect(panel).to_contain_text("Subtotal €149.00")
    page.keyboard.press("Escape")  # closes it and gives the summary its focus back
    expect(panel).to_be_hidden()
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_contain_text("Subtotal")
    tab_to(page, panel.get_by_role("button", name="View cart"), limit=6)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()

    # Typing a quantity and pressing Enter sets it; the field keeps the focus.
    mug_qty = page.get_by_label("Quantity of Speckled Stoneware Mug")
    tab_to(page, mug_qty, limit=60)
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    with page.expect_response(lambda r: r.url.endswith("/quantity")):
        page.keyboard.press("Enter")
    expect(mug_qty).to_have_value("3")
    expect(status(page)).to_have_text("Updated Speckled Stoneware Mug: 3 in your cart.")
    expect(mug_qty).to_be_focused()

    # "+" on the other line, reached backwards; it keeps the focus after the swap.
    more = page.get_by_role("button", name="One more Waxed Field Jacket")
    tab_to(page, more, limit=20, backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Quantity of Waxed Field Jacket")).to_have_value("2")
    expect(status(page)).to_have_text(
        "Updated Waxed Field Jacket, size: L, colour: Olive: 2 in your cart."
    )
    expect(more).to_be_focused()
    assert page.evaluate(ON_BODY) is False

    checkout = page.get_by_role("button", name="Continue to checkout")
    assert tab_to(page, checkout, limit=20) <= 12
    page.keyboard.press("Enter")

    # Details, typed field by field; the country is the shop's and a delivery option chosen.
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    for label, value in [
        ("Email for your receipt", "keys@example.com"),
        ("Full name", "Kay Board"),
        ("Address", "1 Tab Street"),
        ("Town or city", "London"),
        ("Postcode", "SW1A 1AA"),
    ]:
        tab_to(page, page.locator("fieldset").get_by_label(label, exact=True).first, limit=15)
        page.keyboard.type(value)
    tab_to(page, page.get_by_role("button", name="Review your order"), limit=40)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.locator("#main")).to_be_focused()  # the new page's content, as after a load

    # Pay without the terms: the error summary takes the focus and leads to the checkbox.
    pay = page.get_by_role("button", name=re.compile(r"^Pay €"))
    tab_to(page, pay, limit=40)
    page.keyboard.press("Enter")
    summary_box = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary_box).to_be_focused()
    page.keyboard.press("Tab")
    expect(summary_box.get_by_role("link")).to_be_focused()
    page.keyboard.press("Enter")
    terms = page.get_by_label("I have read and accept the terms and conditions")
    expect(terms).to_be_focused()
    page.keyboard.press("Space")
    expect(terms).to_be_checked()
    tab_to(page, pay, limit=6)
    page.keyboard.press("Enter")

    expect(page.get_by_text("TEST MODE")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Pay (test)"), limit=30)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    problems.assert_clean()

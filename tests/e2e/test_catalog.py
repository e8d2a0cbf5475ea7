"""A shopper finds and looks at products in Chromium, with and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_search_filter_page_and_open_a_product(page, live_server, problems):
    page.goto(live_server.url + "/")
    page.get_by_role("combobox", name="Search products").fill("merino")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/products\?q=merino"))
    results = page.locator("#results")
    expect(results.get_by_role("heading", name=re.compile("for “merino”"))).to_be_visible()
    expect(results.get_by_role("link", name="Merino Wool Jumper", exact=True)).to_be_visible()

    # Changing a filter swaps only the results (htmx) and pushes the URL.
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url(re.compile(r"sort=price"))
    expect(results.get_by_role("heading", name=re.compile(r"^\d+ products$"))).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no full reload happened

    # Pagination, then back to the product.
    page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Next").click()
    expect(page.get_by_text(re.compile(r"Page 2 of \d+"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"page=2"))

    page.goto(live_server.url + "/products?q=merino")
    page.get_by_role("link", name="Merino Wool Jumper", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Merino Wool Jumper")).to_be_visible()
    expect(page.get_by_text("Only 2 left")).to_be_visible()
    expect(page.get_by_text("SKU: MWJ-M")).to_be_visible()

    # Picking another size updates price, stock and SKU in place.
    sizes = page.get_by_role("group", name=re.compile("^Size"))
    expect(sizes.get_by_role("radio", name="S sold out")).to_be_visible()
    # With JavaScript the choice applies itself: the no-JS button steps aside.
    expect(page.get_by_role("button", name="Show this option")).to_be_hidden()
    sizes.get_by_text("L", exact=True).click()
    expect(page.get_by_text("SKU: MWJ-L")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/products/merino-wool-jumper\?variant=\d+$"))
    expect(page.locator("#variant-panel .price")).to_have_text("€94.00")
    assert page.evaluate("window.__sameDocument") is None  # a new document since goto
    problems.assert_clean()


def test_category_navigation_and_breadcrumbs(page, live_server, problems):
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Clothing").click()
    expect(page.get_by_role("heading", level=1, name="Clothing")).to_be_visible()
    page.get_by_role("navigation", name="Subcategories").get_by_role("link", name="Women").click()
    expect(page.get_by_role("heading", level=1, name="Women")).to_be_visible()
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.get_by_role("link", name="Clothing")).to_be_visible()
    page.get_by_role("link", name="Merino Wool Jumper", exact=True).click()
    expect(
        page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Knitwear")
    ).to_be_visible()
    problems.assert_clean()


def test_the_same_journey_without_javascript(no_js_page, live_server):
    page = no_js_page
    page.goto(live_server.url + "/products")
    page.get_by_label("Search", exact=True).fill("merino")
    page.get_by_label("In stock only").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"q=merino.*in_stock=1"))
    page.get_by_role("link", name="Merino Wool Jumper", exact=True).click()
    expect(page.get_by_text("SKU: MWJ-M")).to_be_visible()
    page.get_by_role("group", name=re.compile("^Size")).get_by_text("L", exact=True).click()
    page.get_by_role("button", name="Show this option").click()
    expect(page).to_have_url(re.compile(r"variant=\d+"))
    expect(page.get_by_text("SKU: MWJ-L")).to_be_visible()

    # Ticking options and pressing Add at once adds what was ticked, not what was shown.
    page.goto(live_server.url + "/products/waxed-field-jacket")
    expect(page.get_by_text("SKU: WFJ-OS")).to_be_visible()
    page.get_by_role("group", name=re.compile("^Colour")).get_by_role(
        "radio", name=re.compile("^Navy")
    ).check()
    page.get_by_role("group", name=re.compile("^Size")).get_by_text("L", exact=True).click()
    page.get_by_role("button", name="Add to cart", exact=True).click()
    expect(
        page.get_by_text("Added Waxed Field Jacket, size: L, colour: Navy — 1 in your cart.")
    ).to_be_visible()


def test_bad_query_parameters_in_the_browser(page, live_server, problems):
    response = page.goto(
        live_server.url + "/products?page=-1&per_page=100000&min_price=abc&sort=evil&q=%22AND+OR+("
    )
    assert response.status == 200
    expect(
        page.get_by_text("Minimum price is not an amount like 25 or 12.50, so it was ignored.")
    ).to_be_visible()
    problems.assert_clean()


def test_options_by_keyboard_keep_focus_and_announce_the_choice(page, live_server, problems):
    """Size and colour are radio groups: arrow keys choose, the panel updates in place, the
    focus stays on the chosen value and the change is said in the status region."""
    page.goto(live_server.url + "/products/waxed-field-jacket")
    expect(page.get_by_text("SKU: WFJ-OS")).to_be_visible()
    colours = page.get_by_role("group", name=re.compile("^Colour"))
    sizes = page.get_by_role("group", name=re.compile("^Size"))
    expect(sizes.get_by_role("radio", name="M sold out", exact=True)).to_be_visible()
    # Navy comes in M and L only: from S it is marked, and choosing it moves the size.
    expect(
        colours.get_by_role("radio", name="Navy (not with the other choices)", exact=True)
    ).to_be_visible()

    sizes.get_by_role("radio", name="S", exact=True).focus()
    page.keyboard.press("ArrowRight")  # M: sold out in Olive
    expect(page.get_by_text("SKU: WFJ-OM")).to_be_visible()
    expect(page.locator("#variant-panel")).to_contain_text("Out of stock")
    expect(
        page.locator("#variant-panel").get_by_role("button", name="Add to cart")
    ).to_be_disabled()
    expect(sizes.get_by_role("radio", name="M sold out", exact=True)).to_be_focused()
    page.keyboard.press("ArrowRight")  # L
    expect(page.get_by_text("SKU: WFJ-OL")).to_be_visible()
    expect(sizes.get_by_role("radio", name="L", exact=True)).to_be_focused()
    expect(page.locator("#variant-status")).to_have_text(  # other journeys buy some
        re.compile(r"^Size L, colour Olive: €134\.00, only \d left\.$")
    )

    page.keyboard.press("Tab")  # into the colour group
    expect(colours.get_by_role("radio", name="Olive", exact=True)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("SKU: WFJ-NL")).to_be_visible()
    expect(page.locator("#variant-panel .price")).to_have_text("€139.00")
    expect(colours.get_by_role("radio", name="Navy", exact=True)).to_be_focused()
    expect(page).to_have_url(re.compile(r"variant=\d+$"))
    problems.assert_clean()

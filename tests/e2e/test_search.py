"""Searching as a person does: suggestions chosen with the keyboard, a typo corrected, a phone."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_keyboard_shopper_chooses_a_suggestion(page, live_server, problems):
    page.goto(live_server.url + "/")
    box = page.get_by_role("combobox", name="Search products")
    expect(box).to_have_attribute("aria-controls", "search-suggestions")
    expect(box).to_have_attribute("aria-autocomplete", "list")
    box.press_sequentially("waxed fi", delay=40)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option", name=re.compile("Waxed Field Jacket"))).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="suggestion")).to_have_count(1)

    box.press("ArrowDown")
    first = listbox.get_by_role("option").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "suggestion-0")
    expect(box).to_be_focused()  # the keyboard never leaves the field

    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    expect(box).to_have_value("waxed fi")  # the first Escape closes, it does not clear

    box.press("ArrowDown")
    expect(first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Waxed Field Jacket")).to_be_visible()
    problems.assert_clean()


def typed_with_the_last_answer_held(page, live_server):
    """A shopper types "waxed f", sees its suggestions, then types "i": the answer for
    "waxed fi" is held back. Returns the field, the jacket's option and a function that lets
    the held answer arrive and waits until it has replaced the list."""
    held = []

    def hold_the_last(route):
        if "q=waxed+fi" in route.request.url or "q=waxed%20fi" in route.request.url:
            held.append(route)
        else:
            route.continue_()

    page.route("**/search/suggestions*", hold_the_last)
    page.goto(live_server.url + "/")
    page.evaluate(  # counts the suggestion list's swaps on <html>, for expect() to wait on
        "document.addEventListener('htmx:afterSwap', (e) => {"
        " if (e.detail.target.id !== 'search-suggestions') return;"
        " const root = document.documentElement;"
        " root.dataset.swaps = String(Number(root.dataset.swaps || 0) + 1); });"
    )
    box = page.get_by_role("combobox", name="Search products")
    box.press_sequentially("waxed f", delay=40)
    listbox = page.get_by_role("listbox", name="Suggestions")
    jacket = listbox.get_by_role("option", name=re.compile("Waxed Field Jacket"))
    expect(jacket).to_be_visible()
    box.press_sequentially("i")
    for _ in range(250):  # past the 150 ms debounce: the request is sent, and held
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1

    def arrive() -> None:
        swaps = int(page.evaluate("document.documentElement.dataset.swaps || '0'"))
        held[0].continue_()
        expect(page.locator("html")).to_have_attribute("data-swaps", str(swaps + 1))

    return box, jacket, arrive


def assert_only_htmx_console_errors(problems) -> None:
    """Holding an answer back makes htmx log the requests it gave up (sync: replace, the page
    left): those, and only those, are expected."""
    assert problems.csp_violations() == []
    assert [e for e in problems.console_errors if not e.startswith("htmx:")] == []


def test_a_choice_made_before_slow_suggestions_arrive_is_kept(page, live_server, problems):
    """The suggestions for the last keystroke arrive after the shopper already chose one of
    those shown for the keystrokes before (a slow answer): the choice stays, so Enter opens
    the product the list showed as chosen rather than searching."""
    box, jacket, arrive = typed_with_the_last_answer_held(page, live_server)
    for _ in range(10):  # down the list to the jacket (its place depends on the catalog)
        box.press("ArrowDown")
        if jacket.get_attribute("aria-selected") == "true":
            break
    expect(jacket).to_have_attribute("aria-selected", "true")
    arrive()
    expect(jacket).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("status").filter(has_text="still chosen")).to_have_count(1)
    box.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Waxed Field Jacket")).to_be_visible()
    assert_only_htmx_console_errors(problems)


def test_a_list_closed_with_escape_stays_closed_when_slow_suggestions_arrive(
    page, live_server, problems
):
    box, _, arrive = typed_with_the_last_answer_held(page, live_server)
    listbox = page.get_by_role("listbox", name="Suggestions")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    arrive()
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press("ArrowDown")  # the shopper asks for it again: it opens
    expect(listbox).to_be_visible()
    assert_only_htmx_console_errors(problems)


def test_enter_without_a_choice_searches_and_a_typo_is_corrected_on_a_phone(
    page, live_server, problems, tmp_path
):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    box = page.get_by_role("combobox", name="Search products")
    box.press_sequentially("jaket", delay=30)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/products\?q=jaket"))
    correction = page.get_by_text(re.compile("Showing results for"))
    expect(correction).to_contain_text("jacket")
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Waxed Field Jacket", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "typo-390.png"), full_page=True)

    page.get_by_role("link", name="search instead for “jaket”").click()
    expect(page).to_have_url(re.compile(r"as_typed=1"))
    expect(page.get_by_text("No products match “jaket”")).to_be_visible()
    problems.assert_clean()


def test_suggestions_on_a_phone_fit_the_screen(page, live_server, problems, tmp_path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.get_by_role("combobox", name="Search products").press_sequentially("mer", delay=40)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    box = listbox.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "suggestions-390.png"))
    problems.assert_clean()


def test_typing_on_while_suggestions_are_slow_gives_the_older_request_up(
    page, live_server, problems
):
    """The suggestions for "mer" are slow to come; the shopper types on. The request for
    "mer" is given up (htmx logs that: no fault of the page) and the list shows the answer
    for "meri"."""
    held = []
    page.route("**/search/suggestions*", lambda route: held.append(route))
    page.goto(live_server.url + "/")
    box = page.get_by_role("combobox", name="Search products")
    box.fill("mer")  # one input event, whatever the machine's speed: one request
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(20)
    box.press("i")
    for _ in range(100):
        if len(held) > 1:
            break
        page.wait_for_timeout(20)
    assert [r.request.url.rsplit("q=", 1)[-1] for r in held] == ["mer", "meri"]
    held[-1].continue_()
    expect(page.get_by_role("listbox", name="Suggestions")).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    problems.assert_clean()

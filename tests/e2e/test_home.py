import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_home_page_loads_without_console_errors_or_csp_violations(page, live_server, problems):
    response = page.goto(live_server.url + "/")
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("main")).to_be_visible()
    # htmx is loaded from our own origin and has not needed inline styles or eval.
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.htmx.version") == "2.0.11"
    problems.assert_clean()


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, live_server, problems):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    problems.assert_clean()


def test_404_page_in_the_browser(page, live_server, problems):
    response = page.goto(live_server.url + "/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    # The browser reports the document's own 404; nothing else may fail.
    assert [e for e in problems.console_errors if "status of 404" not in e] == []
    assert problems.csp_violations() == []

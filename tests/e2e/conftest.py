"""Browser helpers: every page load is checked for console errors and CSP violations."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push([e.violatedDirective, e.blockedURI, e.sample,
    e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 200) : ''].join(' '));
});
"""


class PageProblems:
    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.add_init_script(RECORD_CSP_VIOLATIONS)

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} @ {self.page.url} {message.location}")

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def assert_clean(self) -> None:
        assert self.csp_violations() == []
        errors = without_given_up_requests(self.console_errors)
        assert errors == [], errors


def without_given_up_requests(errors: list[str]) -> list[str]:
    """htmx logs a request it gave up on purpose (``hx-sync`` replace: the shopper typed on
    before the suggestions for the last letter came; or the page was left) as two console
    errors, ``htmx:afterRequest`` then ``htmx:sendAbort``. Those pairs are no fault of the
    page; a failed request (``htmx:sendError``), a timeout or anything else still is."""
    kept = []
    for i, error in enumerate(errors):
        aborted_next = i + 1 < len(errors) and errors[i + 1].startswith("htmx:sendAbort")
        if error.startswith("htmx:sendAbort"):
            continue
        if error.startswith("htmx:afterRequest") and aborted_next:
            continue
        kept.append(error)
    return kept


@pytest.fixture
def problems(page) -> PageProblems:
    return PageProblems(page)


@pytest.fixture
def no_js_page(browser):
    """A page in a context with JavaScript switched off: every flow must still work."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def admin_storage(browser, live_server):
    """One signed-in admin (password and TOTP) shared by the tests that only look at admin
    pages: every sign-in spends a TOTP code, and codes are single-use."""
    from tests.e2e.test_staff_journey import sign_in_admin

    context = browser.new_context()
    page = context.new_page()
    sign_in_admin(page, live_server.url)
    state = context.storage_state()
    context.close()
    return state

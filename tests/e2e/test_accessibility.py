"""An automated WCAG check (axe-core 4.14, vendored in tests/e2e/vendor with its MPL-2.0
licence) over storefront and admin pages: no serious or critical violation of WCAG 2.x A/AA.
Manual checks (keyboard journeys, focus after swaps, screenshots) live in the other tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_layout import ADMIN_LISTS, storefront_paths

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text()
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
  });
  const serious = result.violations
    .filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => {
      const where = v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ');
      return `${v.id} (${v.impact}): ${where}`;
    });
  return {serious, passed: result.passes.length};
}"""


def violations(page, base, path) -> list[str]:
    page.goto(base + path)
    page.evaluate(AXE)
    result = page.evaluate(RUN)
    assert result["passed"] > 10, path  # the checker really ran its rules on the page
    return [f"{path}: {v}" for v in result["serious"]]


@pytest.mark.parametrize("width", [390, 1280])
def test_storefront_pages_have_no_serious_wcag_violations(browser, live_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found = []
    for path in storefront_paths(page, live_server.url):
        found += violations(page, live_server.url, path)
    context.close()
    assert not found, "\n".join(found)


def test_admin_pages_have_no_serious_wcag_violations(browser, live_server, admin_storage):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, storage_state=admin_storage
    )
    page = context.new_page()
    found = []
    for path in ADMIN_LISTS:
        found += violations(page, live_server.url, path)
    context.close()
    assert not found, "\n".join(found)

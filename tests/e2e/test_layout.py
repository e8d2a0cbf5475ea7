"""Every storefront page at phone and desktop widths, with JavaScript on and off, and every
admin list at laptop and desktop widths: nothing scrolls sideways, and tables fit their box
(or scroll inside a container of their own). Screenshots go to the test's output folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

OVERFLOW = """() => {
  const page = document.documentElement.scrollWidth - window.innerWidth;
  const tables = [...document.querySelectorAll('table')].filter(t => {
    let box = t.parentElement;
    while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const scrolls = box && ['auto', 'scroll'].includes(getComputedStyle(box).overflowX);
    const right = t.parentElement.getBoundingClientRect().right;
    return !scrolls && t.getBoundingClientRect().right > right + 1;
  }).map(t => (t.caption && t.caption.textContent.trim()) || t.className || 'table');
  return {page, tables};
}"""


def storefront_paths(page, base) -> list[str]:
    page.goto(base + "/")
    category = page.locator("a[href^='/c/']").first.get_attribute("href")
    product = page.locator("a[href^='/products/']").first.get_attribute("href")
    page.goto(base + product)
    page.get_by_role("button", name="Add to cart", exact=True).click()
    return [
        "/",
        "/products",
        "/products?q=wool&min_price=abc",
        category,
        product,
        "/products/waxed-field-jacket",  # two option groups
        "/cart",
        "/checkout",
        "/account/login",
        "/account/signup",
        "/account/forgot",
        "/account/login/link",
        "/pages/terms",
    ]


def check(page, base, path, label, failures, shots):
    page.goto(base + path)
    result = page.evaluate(OVERFLOW)
    if result["page"] > 0 or result["tables"]:
        failures.append(f"{label} {path}: {result}")
    name = re.sub(r"[^a-z0-9]+", "-", f"{label}-{path}".lower()).strip("-")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [320, 390, 1280, 1920])
def test_storefront_pages_never_scroll_sideways(browser, live_server, width, tmp_path):
    failures: list[str] = []
    for js in (True, False):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, java_script_enabled=js
        )
        page = context.new_page()
        for path in storefront_paths(page, live_server.url):
            check(page, live_server.url, path, f"{width}px js={js}", failures, tmp_path)
        context.close()
    assert not failures, "\n".join(failures)


ADMIN_LISTS = [
    "/admin/",
    "/admin/orders",
    "/admin/orders?dispute=open",
    "/admin/payments",
    "/admin/products",
    "/admin/inventory",
    "/admin/categories",
    "/admin/customers",
    "/admin/notifications",
    "/admin/webhook-events",
    "/admin/audit",
    "/admin/imports",
    "/admin/search-synonyms",
    "/admin/settings/shipping",
    "/admin/settings/tax",
]


def test_admin_lists_fit_laptop_and_desktop_windows(browser, live_server, admin_storage, tmp_path):
    failures: list[str] = []
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, storage_state=admin_storage
    )
    page = context.new_page()
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ADMIN_LISTS:
            check(page, live_server.url, path, f"admin {width}px", failures, tmp_path)
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    context.close()
    assert not failures, "\n".join(failures)


def test_the_api_reference_reads_top_to_bottom(page, live_server):
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + "/api/v1/docs")
        expect(page.get_by_role("heading", level=1).first).to_be_visible()
        assert page.evaluate(OVERFLOW)["page"] <= 0, width

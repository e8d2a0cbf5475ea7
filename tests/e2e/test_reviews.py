"""A buyer reviews what they bought, staff approve it, and the rating appears on the product
page (with its distribution and "verified purchase") and in the page's JSON-LD."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_checkout import add_mug, fill_details
from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def test_a_buyer_reviews_staff_approve_the_rating_shows(
    browser, page, live_server, problems, admin_storage
):
    base = live_server.url
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/cart")
    if page.get_by_role("button", name="Empty cart").count():
        page.get_by_role("button", name="Empty cart").click()
    add_mug(page, base)
    page.goto(base + "/checkout")
    fill_details(page, "shopper@example.com")
    page.get_by_label("I have read and accept the terms and conditions").check()
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()

    page.goto(base + "/products?q=speckled")
    page.get_by_role("link", name="Speckled Stoneware Mug").first.click()
    page.get_by_role("link", name="Write a review").click()
    page.get_by_label("4 stars").check()
    page.get_by_label("Title (optional)").fill("A sturdy mug")
    page.get_by_label("Your review (optional)").fill("Keeps tea warm.\nThe glaze is lovely.")
    page.get_by_role("button", name="Send review").click()
    expect(page.get_by_text(re.compile("will appear once our team has read it"))).to_be_visible()
    product_url = page.url

    staff = browser.new_context(storage_state=admin_storage).new_page()
    staff.goto(base + "/admin/")
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="Reviews").click()
    review = staff.get_by_role("listitem").filter(has_text="A sturdy mug")
    review.get_by_role("button", name=re.compile("^Approve")).click()
    expect(staff.get_by_text(re.compile("Approved the review by Sam S."))).to_be_visible()

    page.goto(product_url)
    expect(page.get_by_text("4.0 out of 5")).to_be_visible()
    expect(page.get_by_text("A sturdy mug")).to_be_visible()
    expect(page.get_by_text("Verified purchase")).to_be_visible()
    scripts = page.locator('script[type="application/ld+json"]').all_text_contents()
    ld = next(d for d in map(json.loads, scripts) if d["@type"] == "Product")
    assert ld["aggregateRating"]["ratingValue"] == 4.0
    assert ld["review"][0]["name"] == "A sturdy mug"
    problems.assert_clean()

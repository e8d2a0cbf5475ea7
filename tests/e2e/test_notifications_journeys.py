"""Issue 19's journeys in a real browser: a shopper asks to hear when a sold-out jumper
returns, staff see the waiting list and receive stock, the shopper's e-mail goes out once;
a shopper agrees to news by e-mail and staff write, preview, test and send a campaign that
reaches them with a one-click unsubscribe."""

import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.catalog.models import Product, Variant
from app.extensions import db
from app.inventory.services import set_stock_count
from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def sold_out_product(live_server) -> tuple[str, str, int]:
    """A seeded product made sold out (the shop's state before the journey)."""
    from app.db import unit_of_work

    with live_server.app.app_context():
        with unit_of_work():
            variant = (
                db.session.execute(
                    sa.select(Variant)
                    .join(Product)
                    .where(
                        Product.status == "published",
                        Variant.track_inventory.is_(True),
                        Variant.reserved == 0,  # no other test's unpaid order holds it
                        Product.name.not_ilike("%speckled%"),
                    )
                    .order_by(Variant.id.desc())
                )
                .scalars()
                .first()
            )
            set_stock_count(variant.id, 0, note="sold out for the test")
            found = (variant.product.slug, variant.product.name, variant.id)
        db.session.remove()
    return found


def outbox_rows(page, base, email, template):
    page.goto(base + "/dev/outbox")
    return page.get_by_role("row").filter(has_text=email).filter(has_text=template)


def test_back_in_stock_from_asking_to_the_one_email(
    browser, page, live_server, problems, admin_storage
):
    base = live_server.url
    slug, name, variant_id = sold_out_product(live_server)
    email = f"waiting-{uuid.uuid4().hex[:6]}@example.com"
    page.goto(f"{base}/products/{slug}?variant={variant_id}")
    field = page.get_by_label("Sold out. Email me when it is back:")
    field.fill(email)
    field.press("Enter")
    expect(
        page.get_by_text(re.compile(f"We will email you once when {re.escape(name)}"))
    ).to_be_visible()
    expect(field).to_be_focused()  # the answer appears beside the form; focus stays put

    staff = browser.new_context(storage_state=admin_storage).new_page()
    staff.goto(f"{base}/admin/inventory/{variant_id}")
    expect(staff.get_by_role("cell", name=email)).to_be_visible()
    staff.get_by_label("Reason").select_option("receipt")
    staff.get_by_label("Change in units").fill("5")
    staff.get_by_label("Note").fill("delivery")
    staff.get_by_role("button", name="Save adjustment").click()
    expect(staff.get_by_text("Nobody is waiting for this variant.")).to_be_visible()

    rows = outbox_rows(page, base, email, "back-in-stock")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("sent")
    problems.assert_clean()


def test_a_campaign_from_draft_to_the_customers_inbox(
    browser, page, live_server, problems, admin_storage
):
    base = live_server.url
    # The shopper agrees to news by e-mail.
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/account/preferences")
    page.get_by_label("Email: news and offers").check()
    page.get_by_role("button", name="Save preferences").click()

    headline = f"Winter knits {uuid.uuid4().hex[:4]}"
    staff = browser.new_context(storage_state=admin_storage).new_page()
    staff.goto(base + "/admin/")
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="Campaigns").click()
    staff.get_by_role("button", name="New campaign").click()
    staff.get_by_label("Name (for staff)").fill("Winter knits")
    staff.get_by_label("Headline").fill(headline)
    staff.get_by_label("Message").fill("Our merino jumpers are back.\n\nIn four new colours.")
    staff.get_by_role("button", name="Save and preview").click()
    expect(staff.get_by_text(f"Subject: {headline}")).to_be_visible()
    frame = staff.frame_locator("iframe.email-frame")
    expect(frame.get_by_text("Our merino jumpers are back.")).to_be_visible()
    staff.get_by_role("button", name="Send a test to me").click()
    expect(staff.get_by_text(re.compile("Sent a test of Winter knits to"))).to_be_visible()
    staff.get_by_role("button", name=re.compile(r"^Send now to \d+ customers")).click()
    expect(staff.get_by_text("Sending Winter knits now.")).to_be_visible()
    expect(staff.get_by_role("heading", name="Status: Sent")).to_be_visible()

    row = outbox_rows(page, base, "shopper@example.com", "newsletter").first
    expect(row).to_contain_text("sent")
    row.get_by_role("link").click()
    expect(page.locator(".email-text")).to_contain_text("Our merino jumpers are back.")
    expect(page.get_by_text("List-Unsubscribe-Post")).to_be_visible()
    problems.assert_clean()

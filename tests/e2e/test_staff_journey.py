"""The staff journey from the admin issue, in a real browser against a live server:

an admin with two-factor signs in, creates a product with two variants and an image,
publishes it, sees it in the shop, receives a (sandbox) order for it, marks it shipped with a
tracking number (the customer's shipped email is delivered), refunds one line (stock restored,
refund recorded) and finds each action in the audit log.
"""

import io
import re
import time
import uuid

import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from app.catalog.models import Variant
from app.extensions import db
from tests.e2e.test_checkout import fill_details
from tests.plugins.live_server import LIVE_ADMIN_EMAIL, LIVE_ADMIN_TOTP, LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def stock_of(live_server, sku: str) -> int:
    with live_server.app.app_context():
        value = db.session.execute(
            sa.select(Variant.stock_on_hand).where(Variant.sku == sku)
        ).scalar_one()
        db.session.remove()
        return value


def sign_in_admin(page, base):
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill(LIVE_ADMIN_EMAIL)
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # A code is accepted once, and only codes newer than the last one used (replay
    # protection); the server's window accepts the next step's code too. Several tests sign
    # the same admin in within seconds, so when both are spent, wait for the next step.
    totp = pyotp.TOTP(LIVE_ADMIN_TOTP)
    for attempt, ahead in enumerate((0, 1, 1)):
        if attempt == 2:
            time.sleep(30 - time.time() % 30 + 0.5)
        code = totp.at(time.time() + 30 * ahead)
        page.get_by_label("Authentication code or recovery code").fill(code)
        page.get_by_role("button", name="Continue").click()
        expect(page).not_to_have_url(re.compile(r"/account/login$"))
        if "/two-factor" not in page.url:
            break
    page.goto(base + "/admin/")
    expect(page.get_by_role("heading", name="Staff dashboard")).to_be_visible()


def create_product(page, name: str, tag: str) -> None:
    nav = page.get_by_role("navigation", name="Staff")
    nav.get_by_role("link", name="Products").click()
    page.get_by_role("button", name="New product").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("SKU", exact=True).fill(f"{tag}-S")
    page.get_by_label("Options", exact=True).fill("Size: S")
    page.get_by_label("Price", exact=True).fill("24.50")
    page.get_by_label("Stock", exact=True).fill("5")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()

    page.get_by_label("SKU", exact=True).fill(f"{tag}-L")
    page.get_by_label("Options", exact=True).fill("Size: L")
    page.get_by_label("Price", exact=True).fill("29.00")
    page.get_by_label("Stock", exact=True).fill("5")
    page.get_by_role("button", name="Add variant").click()
    variants = page.get_by_role("table", name=re.compile("^Variants of"))
    expect(variants).to_contain_text(f"{tag}-S")
    expect(variants).to_contain_text(f"{tag}-L")

    page.get_by_label("Image", exact=True).set_input_files(
        {"name": "lantern.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    page.get_by_label("Alt text", exact=True).fill("A copper lantern, lit")
    page.get_by_role("button", name="Upload image").click()
    expect(page.locator('img[alt="A copper lantern, lit"]')).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("button", name="View in shop")).to_be_visible()


def buy_both_sizes(browser, base, name: str, email: str) -> str:
    """A guest buys one of each size in a separate browser and pays in the sandbox."""
    context = browser.new_context()
    shopper = context.new_page()
    shopper.goto(base + "/products?q=" + name.split()[0])
    shopper.get_by_role("link", name=name).first.click()
    expect(shopper.get_by_role("heading", name=name)).to_be_visible()
    expect(shopper.locator('img[alt="A copper lantern, lit"]').first).to_be_visible()
    for size in ("S", "L"):
        sizes = shopper.get_by_role("group", name=re.compile("^Size"))
        sizes.get_by_role("radio", name=size, exact=True).check()
        expect(shopper.locator("#variant-panel .sku")).to_contain_text(f"-{size}")
        shopper.get_by_role("button", name="Add to cart", exact=True).click()
        expect(shopper.get_by_text(re.compile(r"^Added .* in your cart\.")).first).to_be_visible()
    shopper.goto(base + "/cart")
    shopper.get_by_role("button", name="Continue to checkout").click()
    fill_details(shopper, email)
    shopper.get_by_label("I have read and accept the terms and conditions").check()
    shopper.get_by_role("button", name=re.compile(r"^Pay €")).click()
    shopper.get_by_role("button", name="Pay (test)").click()
    expect(shopper.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", shopper.content()).group(0)
    context.close()
    return number


def test_staff_journey_from_new_product_to_refund(page, browser, live_server, problems):
    base = live_server.url
    tag = "HL" + uuid.uuid4().hex[:6].upper()
    name = f"Harbour Lantern {tag}"
    email = f"lantern-{tag.lower()}@example.com"

    sign_in_admin(page, base)
    create_product(page, name, tag)

    # Published: the storefront shows it.
    page.get_by_role("button", name="View in shop").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()

    number = buy_both_sizes(page.context.browser, base, name, email)
    assert stock_of(live_server, f"{tag}-S") == 4 and stock_of(live_server, f"{tag}-L") == 4

    # The order arrives in the admin.
    page.goto(base + "/admin/orders")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=re.compile(number))).to_be_visible()
    page.get_by_role("button", name="Start processing").click()
    page.get_by_label("Carrier").fill("An Post")
    page.get_by_label("Tracking number").fill("LX123456789IE")
    page.get_by_role("button", name="Mark as shipped").click()
    expect(page.get_by_text(f"Order {number} is marked as shipped")).to_be_visible()

    # Refund the small lantern, putting it back on the shelf.
    page.get_by_label(re.compile(rf"^{name} \(Size: S\)")).fill("1")
    page.get_by_label(re.compile("Put .* back in stock|restock", re.I)).check()
    page.get_by_role("button", name="Refund", exact=True).click()
    # Money leaving the shop is confirmed first, with the amount and the item.
    expect(page.get_by_role("heading", name=re.compile(r"^Refund €24\.50 to "))).to_be_visible()
    expect(page.get_by_role("table", name="Items refunded")).to_contain_text(name)
    page.get_by_role("button", name="Refund €24.50").click()
    refunds = page.get_by_role("table", name=re.compile("^Refunds of order"))
    expect(refunds).to_contain_text("€24.50")
    expect(page.get_by_label(re.compile(rf"^{name} \(Size: S\)"))).to_be_disabled()
    assert stock_of(live_server, f"{tag}-S") == 5
    assert stock_of(live_server, f"{tag}-L") == 4

    # The customer's shipped and refund emails were delivered (development outbox).
    page.goto(base + "/dev/outbox")
    for template in ("order-shipped", "refund-issued"):
        row = page.get_by_role("row").filter(has_text=email).filter(has_text=template)
        expect(row).to_contain_text("sent")
    row = page.get_by_role("row").filter(has_text=email).filter(has_text="order-shipped")
    row.get_by_role("link").first.click()
    expect(page.locator(".email-text")).to_contain_text("LX123456789IE")

    # Each action is in the audit log.
    page.goto(base + "/admin/audit")
    page.get_by_label("Done by (email)").fill(LIVE_ADMIN_EMAIL)
    page.get_by_role("button", name="Apply").click()
    log = page.locator("#admin-results")
    for action in (
        "catalog.product_create",
        "catalog.variant_add",
        "catalog.image_add",
        "catalog.product_status",
        "orders.process",
        "orders.ship",
        "orders.refund",
    ):
        expect(log.get_by_text(action, exact=True).first).to_be_visible()
    expect(log).to_contain_text(number)
    problems.assert_clean()


def test_destructive_actions_ask_first_and_back_shows_whole_pages(page, live_server, problems):
    base = live_server.url
    tag = "DD" + uuid.uuid4().hex[:6].upper()
    sign_in_admin(page, base)
    page.goto(base + "/admin/products/new")
    page.get_by_label("Name", exact=True).fill(f"Doomed Draft {tag}")
    page.get_by_label("SKU", exact=True).fill(tag)
    page.get_by_label("Price", exact=True).fill("5.00")
    page.get_by_role("button", name="Create product").click()
    edit_url = page.url

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete draft").click()
    assert questions == ["Delete this draft for good?"]
    expect(page).to_have_url(edit_url)  # answered Cancel: nothing sent

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete draft").click()
    expect(page).not_to_have_url(edit_url)
    expect(page.get_by_text(f"Doomed Draft {tag}").first).to_be_visible()  # the flash

    # htmx paging pushes URLs; leaving and coming Back shows the whole page, not a fragment.
    page.goto(base + "/admin/products")
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Orders").click()
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    page.go_back()
    expect(page.get_by_role("navigation", name="Staff")).to_be_visible()
    expect(page.get_by_role("heading", name="Products", exact=True)).to_be_visible()
    problems.assert_clean()

"""Browse, add to cart, check out, pay in the TEST MODE sandbox, see the order and its email."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PageProblems
from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def fill_details(page, email):
    page.get_by_label("Email for your receipt").fill(email)
    page.get_by_label("Full name").first.fill("Ada Lovelace")
    page.get_by_label("Address", exact=True).first.fill("12 Analytical Street")
    page.get_by_label("Town or city").first.fill("Dublin")
    page.get_by_label("Postcode").first.fill("D02 X285")
    page.get_by_label("Country").first.select_option("IE")
    page.get_by_role("button", name="Review your order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()


def add_mug(page, base):
    page.goto(base + "/products?q=speckled")
    page.get_by_role("button", name=re.compile(r"^Add to cart\s*: Speckled Stoneware Mug$")).click()
    # Wait for the shop's answer, not for the badge: a badge already above 0 (a page rendered
    # while an earlier "Empty cart" was still committing) let the next navigation race the add.
    expect(page.get_by_text(re.compile(r"^Added .*Speckled Stoneware Mug"))).to_be_visible()


def test_guest_checkout_pays_and_gets_an_email(page, live_server, problems):
    base = live_server.url
    email = f"guest-{uuid.uuid4().hex[:6]}@example.com"
    add_mug(page, base)
    page.goto(base + "/cart")
    page.get_by_role("button", name="Continue to checkout").click()
    fill_details(page, email)
    page.get_by_label("I have read and accept the terms and conditions").check()
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay €"))
    total = pay_button.inner_text().replace("Pay ", "")
    pay_button.click()
    expect(page.get_by_text("TEST MODE")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Pay {total}")).to_be_visible()
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    expect(page.get_by_text("Paid", exact=True)).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content()).group(0)
    expect(page.locator("#mini-cart .badge-count >> visible=true")).to_have_text("0")
    # The confirmation email was delivered (development outbox).
    page.goto(base + "/dev/outbox")
    row = page.get_by_role("row").filter(has_text=email).filter(has_text="order-confirmation")
    expect(row).to_contain_text("sent")
    row.get_by_role("link").click()
    expect(page.locator(".email-text")).to_contain_text(number)
    problems.assert_clean()


@pytest.mark.parametrize("action", ["Decline the card (test)", "Cancel and go back"])
def test_decline_and_cancel_return_to_an_intact_cart(page, live_server, problems, action):
    base = live_server.url
    add_mug(page, base)
    page.goto(base + "/checkout")
    fill_details(page, "someone@example.com")
    page.get_by_label("I have read and accept the terms and conditions").check()
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    page.get_by_role("button", name=action).click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    message = "Your card was declined" if action.startswith("Decline") else "Payment cancelled"
    expect(page.get_by_text(message)).to_be_visible()
    expect(page.get_by_label("Quantity of Speckled Stoneware Mug")).to_be_visible()
    problems.assert_clean()


def test_signed_in_customer_sees_the_paid_order_in_the_account(page, live_server, problems):
    base = live_server.url
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # signed in first
    page.goto(base + "/cart")
    if page.get_by_role("button", name="Empty cart").count():
        page.get_by_role("button", name="Empty cart").click()
        expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    add_mug(page, base)
    page.goto(base + "/checkout")
    expect(page.get_by_label("Email for your receipt")).to_have_value("shopper@example.com")
    fill_details(page, "shopper@example.com")
    page.get_by_label("I have read and accept the terms and conditions").check()
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content()).group(0)
    page.get_by_role("link", name="Your orders").click()
    row = page.get_by_role("row").filter(has_text=number)
    expect(row).to_contain_text("Paid")
    row.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    problems.assert_clean()


def test_a_phone_shopper_bills_elsewhere_presses_pay_twice_and_comes_back(
    browser, live_server, tmp_path
):
    """At 390 px: the billing fields appear only when asked for, the review shows both
    addresses and the VAT as included, a double press on Pay leads to one payment page, and
    the Back button after paying finds the order paid, not a second payment."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems = PageProblems(page)
    base = live_server.url
    add_mug(page, base)
    page.goto(base + "/checkout")
    billing_name = page.locator("#billing_full_name")
    expect(billing_name).to_be_hidden()  # "Same as the shipping address" is chosen
    expect(page.get_by_label("Country").first).to_have_value("GB")  # the shop's country
    page.get_by_label("Email for your receipt").fill("phone@example.com")
    page.locator("#shipping_full_name").fill("Ada Lovelace")
    page.locator("#shipping_line1").fill("12 Analytical Street")
    page.locator("#shipping_city").fill("London")
    page.locator("#shipping_postal_code").fill("sw1a 1aa")
    page.get_by_label("A different billing address").check()
    expect(billing_name).to_be_visible()
    billing_name.fill("Lovelace Accounts Ltd")
    page.locator("#billing_line1").fill("1 Engine Row")
    page.locator("#billing_city").fill("London")
    page.locator("#billing_postal_code").fill("EC1A 1BB")
    page.locator("#billing_country").select_option("GB")
    page.screenshot(path=str(tmp_path / "details-390.png"), full_page=True)
    page.get_by_role("button", name="Review your order").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_role("heading", name="Billing address")).to_be_visible()
    expect(page.get_by_text("Lovelace Accounts Ltd")).to_be_visible()
    expect(page.get_by_text("SW1A 1AA")).to_be_visible()
    expect(page.get_by_text("Includes VAT")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(tmp_path / "review-390.png"), full_page=True)
    page.get_by_label("I have read and accept the terms and conditions").check()
    page.get_by_role("button", name=re.compile(r"^Pay £|^Pay €")).dblclick()
    expect(page.get_by_text("TEST MODE")).to_be_visible()
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content()).group(0)
    page.go_back()  # the payment page: already paid, nothing to press
    expect(page.get_by_text("This test payment is complete.")).to_be_visible()
    page.go_back()  # the review page, loaded afresh: the cart was paid, so to the cart
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    with live_server.app.app_context():
        import sqlalchemy as sa

        from app.extensions import db
        from app.orders.models import Order

        orders = db.session.execute(
            sa.select(Order.number, Order.status).where(Order.email == "phone@example.com")
        ).all()
    assert [tuple(o) for o in orders] == [(number, "paid")]
    problems.assert_clean()
    context.close()

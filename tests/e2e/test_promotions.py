"""The promotions issue's journey in a real browser: staff create WELCOME10, a shopper types
it in the cart and presses Enter, pays in the TEST MODE sandbox, and the order page, the
confirmation e-mail and the invoice show the discount."""

import io
import re
import uuid

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.e2e.test_checkout import add_mug, fill_details

pytestmark = pytest.mark.e2e


def create_welcome10(browser, base, admin_storage) -> None:
    context = browser.new_context(storage_state=admin_storage)
    page = context.new_page()
    page.goto(base + "/admin/")
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Promotions").click()
    page.get_by_role("button", name="New promotion").click()
    page.get_by_label("Name").fill("Welcome 10 %")
    page.get_by_label("With a code shoppers type").check()
    page.get_by_label("Code", exact=True).fill("welcome10")
    page.get_by_label("A percentage off").check()
    page.get_by_label("Percentage off", exact=True).fill("10")
    page.get_by_label("Uses per customer").fill("1")
    page.get_by_role("button", name="Create promotion").click()
    expect(page.get_by_text("Created the promotion Welcome 10 %.")).to_be_visible()
    expect(page.get_by_role("rowheader", name="WELCOME10")).to_be_visible()
    context.close()


def test_staff_make_a_code_and_a_shopper_pays_less_with_it(
    browser, page, live_server, problems, admin_storage, tmp_path
):
    base = live_server.url
    create_welcome10(browser, base, admin_storage)
    email = f"welcome-{uuid.uuid4().hex[:6]}@example.com"
    add_mug(page, base)
    page.goto(base + "/cart")
    subtotal = page.locator("tfoot .amount strong").first.inner_text()
    field = page.get_by_label("Have a code? Enter it here")
    field.fill("welcome10")
    field.press("Enter")  # as people do: type the code, press Enter
    expect(page.get_by_text("Applied the code WELCOME10.")).to_be_visible()
    expect(page.get_by_role("rowheader", name=re.compile("Discount: Welcome 10 %"))).to_be_visible()
    expect(page.get_by_text("Code WELCOME10 applied.")).to_be_visible()
    # A wrong code afterwards: the error is on the field, the applied code stays.
    field = page.get_by_label("Use another code instead")
    field.fill("WELCOME11")
    field.press("Enter")
    expect(page.locator("#voucher-code-error")).to_have_text(
        "We do not know the code “WELCOME11”. Check it and try again."
    )
    expect(page.get_by_label("Use another code instead")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Code WELCOME10 applied.")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/cart-with-code-390.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the cart scrolls sideways at 390 px ({width} px)"
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Continue to checkout").click()
    fill_details(page, email)
    expect(page.get_by_role("rowheader", name=re.compile("Discount: Welcome 10 %"))).to_be_visible()
    page.get_by_label("I have read and accept the terms and conditions").check()
    pay_button = page.get_by_role("button", name=re.compile(r"^Pay €"))
    total = pay_button.inner_text().replace("Pay ", "")
    assert total != subtotal
    pay_button.click()
    expect(page.get_by_text("TEST MODE")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Pay {total}")).to_be_visible()  # what is charged
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    expect(page.get_by_role("rowheader", name=re.compile("Discount: Welcome 10 %"))).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content()).group(0)

    page.goto(base + "/dev/outbox")
    row = page.get_by_role("row").filter(has_text=email).filter(has_text="order-confirmation")
    row.get_by_role("link").click()
    mail = page.locator(".email-text")
    expect(mail).to_contain_text(number)
    expect(mail).to_contain_text("Discount: Welcome 10 % (WELCOME10)")
    order_url = re.search(r"View your order: (\S+)", mail.inner_text()).group(1)

    page.goto(order_url)  # the e-mail's link to the order, as the guest follows it
    expect(page.get_by_role("rowheader", name=re.compile("Discount: Welcome 10 %"))).to_be_visible()
    invoice = page.get_by_role("link", name="Download the invoice (PDF)")
    pdf = page.request.get(base + invoice.get_attribute("href"))
    text = " ".join(
        "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).split()
    )
    assert "Discount: Welcome 10 % (WELCOME10)" in text and total in text
    problems.assert_clean()

"""A customer returns one line of a delivered order; staff approve, receive (back in stock)
and refund it; the customer's order page follows each step."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.catalog.models import Variant
from app.db import unit_of_work, utcnow
from app.extensions import db
from app.orders.models import Order, OrderStatus
from tests.e2e.test_checkout import add_mug, fill_details
from tests.plugins.live_server import LIVE_PASSWORD

pytestmark = pytest.mark.e2e


def delivered(live_server, number: str) -> None:
    """The carrier delivered it (set directly: the shipping steps have their own journey)."""
    with live_server.app.app_context():
        with unit_of_work():
            order = db.session.execute(sa.select(Order).where(Order.number == number)).scalar_one()
            order.status, order.delivered_at = OrderStatus.DELIVERED, utcnow()
        db.session.remove()


def mug_stock(live_server) -> int:
    with live_server.app.app_context():
        value = db.session.execute(
            sa.select(Variant.stock_on_hand)
            .join(Variant.product)
            .where(Variant.product.has(name="Speckled Stoneware Mug"))
        ).scalar_one()
        db.session.remove()
        return value


def test_return_one_mug_approve_receive_refund(browser, page, live_server, problems, admin_storage):
    base = live_server.url
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill("shopper@example.com")
    page.get_by_label("Password").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/cart")
    if page.get_by_role("button", name="Empty cart").count():
        page.get_by_role("button", name="Empty cart").click()
    add_mug(page, base)
    page.goto(base + "/cart")
    page.get_by_label("Quantity of Speckled Stoneware Mug").fill("2")
    page.get_by_label("Quantity of Speckled Stoneware Mug").press("Enter")
    expect(page.get_by_text(re.compile("Updated Speckled Stoneware Mug: 2"))).to_be_visible()
    page.goto(base + "/checkout")
    fill_details(page, "shopper@example.com")
    page.get_by_label("I have read and accept the terms and conditions").check()
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    page.get_by_role("button", name="Pay (test)").click()
    expect(page.get_by_role("heading", name="Thank you for your order!")).to_be_visible()
    number = re.search(r"SS-[0-9A-Z]{4}-[0-9A-Z]{4}", page.content()).group(0)
    delivered(live_server, number)

    page.goto(f"{base}/account/orders/{number}")
    page.get_by_role("link", name="Return items").click()
    page.get_by_label(re.compile("Speckled Stoneware Mug")).fill("1")
    page.get_by_label("Why are you returning it?").select_option("damaged")
    page.get_by_label("Anything we should know? (optional)").fill("Chipped rim.")
    page.get_by_role("button", name="Ask to return these items").click()
    expect(
        page.get_by_text(re.compile(f"We received your return request {number}-R1"))
    ).to_be_visible()
    expect(page.get_by_text("waiting for our reply")).to_be_visible()

    before = mug_stock(live_server)
    staff = browser.new_context(storage_state=admin_storage).new_page()
    staff.goto(base + "/admin/")
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="Returns").click()
    staff.get_by_role("link", name=f"{number}-R1").click()
    staff.get_by_label("Message to the customer (optional)").fill("Send it to 1 Dock Road.")
    staff.get_by_role("button", name="Approve the return").click()
    expect(staff.get_by_text(f"Approved return {number}-R1")).to_be_visible()
    staff.get_by_role("button", name="Mark as received").click()
    expect(staff.get_by_text(re.compile("1 units are back in stock"))).to_be_visible()
    assert mug_stock(live_server) == before + 1
    staff.get_by_role("button", name="Refund the returned items").click()
    expect(staff.get_by_text(re.compile(r"Refunding €15.00 for return"))).to_be_visible()

    page.goto(f"{base}/account/orders/{number}")
    expect(page.get_by_text(re.compile(r"—\s*refunded"))).to_be_visible()
    expect(page.get_by_role("heading", name="Refunds")).to_be_visible()
    problems.assert_clean()

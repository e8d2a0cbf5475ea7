"""Refunds of discounted lines give back what was paid for them: the discount is spread over
the lines when the order is placed, and over a line's units as they are refunded."""

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.orders.models import Refund
from app.orders.refunds import issue_refund
from tests.admin.helpers import sign_in_staff
from tests.admin.test_refunds import refund_post
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, sandbox_action, submit_details
from tests.promotions.helpers import promotion
from tests.promotions.test_checkout import apply


def discounted_order(client, *, code="EURO", lines=((1000, 3),)):
    for i, (price, quantity) in enumerate(lines):
        variant = factories.product(f"Tee {i}", price=price, stock=10).variants[0]
        commit_unit_of_work()
        add_to_cart(client, variant.id, quantity)
    apply(client, code)
    submit_details(client)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    return latest_order()


def test_each_unit_refunds_its_share_and_all_of_them_what_was_paid(client, db):
    promotion("Euro off", code="EURO", benefit="amount", value=100)
    order = discounted_order(client)
    [line] = order.lines
    assert (line.line_total, line.discount, line.gross, order.total) == (3000, 100, 2900, 3395)
    amounts = [issue_refund(order, lines={line.id: 1}).amount for _ in range(3)]
    assert amounts == [966, 967, 967]
    assert sum(amounts) == 2900  # what the shirts cost after the discount, not 3000


def test_an_order_wide_discount_is_spread_over_its_lines_for_refunds(app, client, db):
    promotion("Five off", code="FIVE", benefit="amount", value=500)
    order = discounted_order(client, code="FIVE", lines=((3000, 1), (1000, 2)))
    shirt, mugs = order.lines
    assert (shirt.discount, mugs.discount) == (300, 200)  # in proportion to 3000 : 2000
    assert order.total == 4500 + 495
    commit_unit_of_work()
    staff = app.test_client()
    sign_in_staff(staff, "admin")
    response = refund_post(staff, order, {f"line-{mugs.id}": "2", "reason": "broken"})
    assert response.status_code in (302, 303)
    refund = db.session.execute(sa.select(Refund).where(Refund.order_id == order.id)).scalar_one()
    assert refund.amount == 1800  # two mugs at €10.00 less their €2.00 of the discount

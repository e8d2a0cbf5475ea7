"""A code's uses follow its order through the order verbs: held when placed, released when
the unpaid order expires or is replaced, counted when paid, also when the payment arrives
after the checkout expired."""

import logging

import sqlalchemy as sa

from app.extensions import db
from app.orders.models import CancelReason, OrderStatus
from app.orders.pricing import build_quote
from app.orders.services import cancel_unpaid, commit_sale, place_order
from app.promotions.models import Promotion, UseState, VoucherCode
from app.promotions.rules import Line
from app.promotions.services import Shopper, deal_for
from tests.catalog import factories
from tests.orders.helpers import ADDRESS, items_for, standard
from tests.promotions.helpers import promotion


def order_with_code(variant, code, email="ada@example.com"):
    items = items_for([(variant, 1)])
    lines = [
        Line(key=variant.id, product_id=variant.product_id, category_path="", amount=variant.price)
    ]
    deal = deal_for(lines, code=code, shopper=Shopper(email=email))
    assert deal.code_problem == ""
    quote = build_quote(
        items, currency="EUR", country="IE", region="", method=standard(), deal=deal
    )
    return place_order(
        quote,
        email=email,
        user_id=None,
        cart_id=None,
        shipping_address=ADDRESS,
        billing_address=ADDRESS,
    )


def uses(promotion_id):
    db.session.expire_all()
    return (
        db.session.get(Promotion, promotion_id).uses,
        db.session.execute(
            sa.select(VoucherCode.uses).where(VoucherCode.promotion_id == promotion_id)
        ).scalar_one(),
    )


def test_held_released_then_counted_when_a_late_payment_arrives(db):
    made = promotion(code="LATE", usage_limit=5)
    mug = factories.product("Mug", price=2000, stock=5).variants[0]
    order = order_with_code(mug, "LATE")
    assert (order.discount, order.total) == (200, 1800 + 495)
    assert [d.state for d in order.discounts] == [UseState.HELD] and uses(made.id) == (1, 1)
    cancel_unpaid(order, note="checkout expired", reason=CancelReason.EXPIRED)
    assert [d.state for d in order.discounts] == [UseState.RELEASED] and uses(made.id) == (0, 0)
    assert commit_sale(order).fulfilled  # the provider had accepted the payment after all
    assert order.status == OrderStatus.PAID
    assert [d.state for d in order.discounts] == [UseState.USED] and uses(made.id) == (1, 1)


def test_a_late_payment_past_the_limit_is_counted_so_the_use_is_never_handed_out_again(db, caplog):
    made = promotion(code="ONCE", usage_limit=1)
    mug = factories.product("Mug", price=2000, stock=5).variants[0]
    first = order_with_code(mug, "ONCE")
    cancel_unpaid(first, note="checkout expired", reason=CancelReason.EXPIRED)
    second = order_with_code(mug, "ONCE", email="bob@example.com")  # the freed use is taken
    with caplog.at_level(logging.WARNING, logger="app.promotions.uses"):
        assert commit_sale(first).fulfilled  # paid at the discounted price: it stands
    assert first.discount == 200 and uses(made.id) == (2, 2)
    assert f"order {first.number} was paid with a code past its limit" in caplog.text
    cancel_unpaid(second, note="checkout expired", reason=CancelReason.EXPIRED)
    assert uses(made.id) == (1, 1)  # the one paid use
    lines = [Line(key=mug.id, product_id=mug.product_id, category_path="", amount=mug.price)]
    third = deal_for(lines, code="ONCE", shopper=Shopper(email="carol@example.com"))
    assert third.code_problem == "The code ONCE has been used up." and third.items == ()


def test_a_replaced_order_gives_its_use_back(db):
    made = promotion(code="SWAP", usage_limit=1)
    mug = factories.product("Mug", price=2000, stock=5).variants[0]
    order = order_with_code(mug, "SWAP")
    cancel_unpaid(order, note="replaced by a new payment attempt", reason=CancelReason.REPLACED)
    assert uses(made.id) == (0, 0)
    again = order_with_code(mug, "SWAP")
    assert [d.state for d in again.discounts] == [UseState.HELD] and uses(made.id) == (1, 1)

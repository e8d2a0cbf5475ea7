"""50 shoppers check out the last 10 units at the same moment: exactly 10 orders."""

import sqlalchemy as sa

from app.catalog.models import Product, StockMovement, Variant
from app.db import unit_of_work
from app.extensions import db
from app.orders.models import Order, OrderLine
from app.orders.services import CheckoutError
from tests.catalog import factories
from tests.concurrency import run_at_once
from tests.orders.helpers import order_for

BUYERS = 50
UNITS = 10


def test_fifty_concurrent_checkouts_for_ten_units(app):
    with app.app_context(), unit_of_work():
        product = factories.product("Last Ten Jumpers", stock=UNITS)
        product_id, variant_id = product.id, product.variants[0].id

    def buyer(index: int) -> str:
        try:
            with unit_of_work():
                variant = db.session.get(Variant, variant_id)
                order_for([(variant, 1)], email=f"buyer{index}@example.com")
        except CheckoutError:
            return "refused"
        return "ordered"

    try:
        outcomes = run_at_once(app, BUYERS, buyer)
        with app.app_context():
            on_hand, reserved = db.session.execute(
                sa.select(Variant.stock_on_hand, Variant.reserved).where(Variant.id == variant_id)
            ).one()
            orders = db.session.execute(
                sa.select(sa.func.count())
                .select_from(OrderLine)
                .where(OrderLine.variant_id == variant_id)
            ).scalar_one()
        assert [o for o in outcomes if o not in ("ordered", "refused")] == []
        assert outcomes.count("ordered") == UNITS
        assert (on_hand, reserved, orders) == (UNITS, UNITS, UNITS)
    finally:
        with app.app_context(), unit_of_work():
            order_ids = sa.select(OrderLine.order_id).where(OrderLine.variant_id == variant_id)
            db.session.execute(sa.delete(Order).where(Order.id.in_(order_ids)))
            db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            db.session.execute(sa.delete(Product).where(Product.id == product_id))

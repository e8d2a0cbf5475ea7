"""Stock can never go below zero, even with many writers at once (real threads and commits)."""

import sqlalchemy as sa

from app.catalog.models import Product, StockMovement, Variant
from app.db import unit_of_work
from app.extensions import db
from app.inventory.services import InsufficientStock, adjust_stock
from tests.catalog import factories
from tests.concurrency import run_at_once

BUYERS = 24
UNITS = 10


def test_concurrent_decrements_never_oversell(app):
    with app.app_context(), unit_of_work():
        product = factories.product("Last Few Lamps", stock=UNITS)
        product_id, variant_id = product.id, product.variants[0].id

    def buyer(_: int) -> str:
        try:
            with unit_of_work():
                adjust_stock(variant_id, -1, reason="sale", note="concurrency test")
        except InsufficientStock:
            return "refused"
        return "sold"

    try:
        outcomes = run_at_once(app, BUYERS, buyer)
        with app.app_context():
            stock = db.session.execute(
                sa.select(Variant.stock_on_hand).where(Variant.id == variant_id)
            ).scalar_one()
            sales = db.session.execute(
                sa.select(sa.func.count()).where(
                    StockMovement.variant_id == variant_id, StockMovement.reason == "sale"
                )
            ).scalar_one()
            in_stock = db.session.get(Product, product_id).in_stock
        assert sorted(outcomes) == ["refused"] * (BUYERS - UNITS) + ["sold"] * UNITS
        assert stock == 0
        assert sales == UNITS  # the ledger agrees with the stock
        assert in_stock is False
    finally:
        with app.app_context(), unit_of_work():
            db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            db.session.execute(sa.delete(Product).where(Product.id == product_id))

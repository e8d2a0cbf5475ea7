"""Two tabs adding the same item at the same moment update one line (real threads/commits)."""

import sqlalchemy as sa

from app.cart.models import Cart, CartLine
from app.cart.services import add_item, get_or_create_cart, new_guest_token
from app.catalog.models import Product, StockMovement
from app.db import unit_of_work
from app.extensions import db
from tests.catalog import factories
from tests.concurrency import run_at_once

TABS = 8


def test_concurrent_adds_of_one_variant_make_one_line(app):
    with app.app_context(), unit_of_work():
        product = factories.product("Popular Mug", stock=100)
        product_id, variant_id = product.id, product.variants[0].id
    token = new_guest_token()

    def tab(_: int) -> None:
        with unit_of_work():
            cart = get_or_create_cart(user_id=None, token=token)
            add_item(cart, variant_id, 1)

    try:
        errors = [r for r in run_at_once(app, TABS, tab) if r is not None]
        with app.app_context():
            rows = (
                db.session.execute(
                    sa.select(CartLine.quantity).join(Cart).where(Cart.token == token)
                )
                .scalars()
                .all()
            )
            carts = db.session.execute(
                sa.select(sa.func.count()).where(Cart.token == token)
            ).scalar_one()
        assert errors == []
        assert carts == 1
        assert rows == [TABS]
    finally:
        with app.app_context(), unit_of_work():
            db.session.execute(sa.delete(Cart).where(Cart.token == token))
            db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            db.session.execute(sa.delete(Product).where(Product.id == product_id))

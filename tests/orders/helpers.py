from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.orders.pricing import QuoteItem, build_quote
from app.orders.services import place_order
from app.store.models import ShippingMethod

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
}


def standard() -> ShippingMethod:
    return db.session.execute(
        sa.select(ShippingMethod).where(ShippingMethod.code == "standard")
    ).scalar_one()


def items_for(variants_and_quantities) -> list[QuoteItem]:
    return [
        QuoteItem(
            variant_id=v.id,
            product_name=v.product.name,
            variant_options="",
            sku=v.sku,
            unit_price=v.price,
            quantity=q,
        )
        for v, q in variants_and_quantities
    ]


def order_for(variants_and_quantities, *, country="IE", email="ada@example.com"):
    quote = build_quote(
        items_for(variants_and_quantities),
        currency="EUR",
        country=country,
        region="",
        method=standard(),
    )
    return place_order(
        quote,
        email=email,
        user_id=None,
        cart_id=None,
        shipping_address=ADDRESS,
        billing_address=ADDRESS,
    )

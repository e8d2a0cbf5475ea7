"""The database itself refuses bad money and stock, not only the forms."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.catalog.models import Product, Variant
from tests.catalog import factories


def _variant_update(db, variant, **values):
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(sa.update(Variant).where(Variant.id == variant.id).values(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"price": -100},
        {"price": 0},
        {"stock_on_hand": -1},
        {"reserved": -1},
        {"reserved": 6},  # more than the 5 on hand
        {"compare_at_price": 100},  # below the price
        {"currency": "EU"},
    ],
)
def test_database_refuses_bad_variant_values(db, values):
    product = factories.product(stock=5)
    _variant_update(db, product.variants[0], **values)


def test_duplicate_sku_is_refused_by_the_database(db):
    product = factories.product()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.insert(Variant).values(
                product_id=product.id,
                sku=product.variants[0].sku,
                options={},
                price=100,
                currency="EUR",
                stock_on_hand=0,
                reserved=0,
                track_inventory=True,
                low_stock_threshold=5,
                position=1,
                created_at=product.created_at,
                updated_at=product.created_at,
            )
        )


def test_unknown_product_status_is_refused(db):
    product = factories.product()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(Product).where(Product.id == product.id).values(status="deleted")
        )


def test_duplicate_product_slug_is_refused(db):
    first = factories.product("Same Name")
    other = factories.product("Other")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(sa.update(Product).where(Product.id == other.id).values(slug=first.slug))

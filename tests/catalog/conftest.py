"""Fixtures shared by the catalog tests."""

import pytest

from app.catalog.services import VariantInput
from app.db import commit_unit_of_work
from tests.catalog import factories


@pytest.fixture
def shirt(db):
    men = factories.category("Men", factories.category("Clothing"))
    product = factories.product(
        "Oxford Shirt",
        category=men,
        brand="Kestrel",
        description_html="<p>Crisp <b>cotton</b>.</p><script>alert(1)</script>",
        attributes={"material": "cotton"},
        variants=[
            VariantInput(sku="OX-S", price=4500, options={"size": "S"}, stock=0),
            VariantInput(sku="OX-M", price=4500, options={"size": "M"}, stock=3),
            VariantInput(
                sku="OX-XL", price=4900, options={"size": "XL"}, stock=40, compare_at_price=5900
            ),
        ],
    )
    factories.product("Flannel Shirt", category=men)
    commit_unit_of_work()
    return product

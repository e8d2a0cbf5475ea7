import pytest

from app.orders.pricing import build_quote, shipping_cost, tax_on
from tests.catalog import factories
from tests.orders.helpers import items_for, standard


@pytest.mark.parametrize(
    ("amount", "rate", "inclusive", "tax"),
    [
        (12300, 2300, True, 2300),  # €123.00 including 23 % VAT holds €23.00
        (1000, 2000, True, 167),  # 166.67 rounds half up
        (1000, 2000, False, 200),
        (999, 825, False, 82),  # 82.4175
        (0, 2000, True, 0),
        (1000, 0, True, 0),
    ],
)
def test_tax_rounding(amount, rate, inclusive, tax):
    assert tax_on(amount, rate, inclusive) == tax


def test_free_shipping_above_the_threshold(db):
    method = standard()
    assert shipping_cost(method, 4999) == 495
    assert shipping_cost(method, 5000) == 0


def test_quote_uses_server_prices_vat_inclusive(db):
    mug = factories.product("Mug", price=1500, stock=10).variants[0]
    lamp = factories.product("Lamp", price=4000, stock=10).variants[0]
    quote = build_quote(
        items_for([(mug, 2), (lamp, 1)]), currency="EUR", country="IE", region="", method=standard()
    )
    assert (quote.subtotal, quote.shipping, quote.total) == (7000, 0, 7000)
    assert quote.tax == tax_on(3000, 2300, True) + tax_on(4000, 2300, True)
    assert quote.tax_inclusive and quote.tax_name == "VAT"


def test_quote_without_a_tax_rate_and_paid_shipping(db):
    mug = factories.product("Mug", price=1500, stock=10).variants[0]
    quote = build_quote(
        items_for([(mug, 1)]), currency="EUR", country="US", region="CA", method=standard()
    )
    assert (quote.subtotal, quote.shipping, quote.tax, quote.total) == (1500, 495, 0, 1995)

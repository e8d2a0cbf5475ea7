"""One error type for the shop's rules, mapped once for each door."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from wtforms import StringField

from app.accounts.services import AccountError
from app.api.openapi import shop_problem
from app.cart.services import CartError
from app.catalog.errors import CatalogError
from app.core.shop_errors import ShopError, show_on_form
from app.orders.customer import NotCancellable
from app.orders.fulfilment import FulfilmentError
from app.orders.refunds import RefundError
from app.orders.services import CheckoutError
from app.pages.services import PageError
from app.store.shipping_tax import SettingsError


@pytest.mark.parametrize(
    "error",
    [
        AccountError,
        CartError,
        CatalogError,
        CheckoutError,
        FulfilmentError,
        PageError,
        RefundError,
        SettingsError,
    ],
)
def test_every_domain_refuses_with_one_type_message_code_and_field(error):
    exc = error("Enter the carrier, e.g. DHL.", field="carrier")
    assert isinstance(exc, ShopError) and isinstance(exc, ValueError)
    assert str(exc) == "Enter the carrier, e.g. DHL." and exc.field == "carrier"
    assert exc.code.endswith(("-rejected",)) and exc.code == error.code
    assert error("x", code="cart-full").code == "cart-full"
    assert isinstance(NotCancellable(), ShopError) and NotCancellable().code


def test_the_api_maps_a_field_to_422_and_a_code_to_its_status(app):
    with app.test_request_context("/api/v1/cart/items"):
        blamed = shop_problem(CartError("Sorry, Mug is out of stock.", field="variant_id"))
        assert blamed.status_code == 422
        assert blamed.get_json()["errors"] == {"variant_id": ["Sorry, Mug is out of stock."]}
        full = shop_problem(CartError("Your cart can hold 50 different items.", code="cart-full"))
        assert full.status_code == 409 and full.get_json()["code"] == "cart-full"
        assert full.get_json()["detail"] == "Your cart can hold 50 different items."


def test_the_website_shows_it_on_the_field_or_at_the_top(app):
    class Form(FlaskForm):
        carrier = StringField("Carrier")

    with app.test_request_context("/"):
        form = Form(meta={"csrf": False})
        show_on_form(form, FulfilmentError("Enter the carrier.", field="carrier"))
        show_on_form(form, FulfilmentError("Nothing to ship."))
        show_on_form(form, FulfilmentError("Enter it.", field="nope"), default="carrier")
        assert form.carrier.errors == ["Enter the carrier."]
        assert form.form_errors == ["Nothing to ship.", "Enter it."]

"""Checkout input: contact, addresses and delivery option, as typed. Prices and totals are never
read from it; the rules (required fields, postcodes per country, phone numbers, delivery to
the country) are the checkout service's, the same for the API (app/checkout/details.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectChoice, StringField
from wtforms.validators import Length

from app.accounts.addresses import ADDRESS_FIELDS
from app.core.forms import SelectField

LABELS = {
    "full_name": "Full name",
    "line1": "Address",
    "line2": "Apartment, suite (optional)",
    "city": "Town or city",
    "region": "County, state or region (if any)",
    "postal_code": "Postcode",
    "country": "Country",
    "phone": "Phone (optional, for the courier)",
}
AUTOCOMPLETE = {
    "full_name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
    "country": "country",
    "phone": "tel",
}
LIMITS = {"full_name": 120, "line1": 200, "line2": 200, "city": 120, "region": 120}


def _address(prefix: str) -> dict:
    fields: dict = {}
    for key in ADDRESS_FIELDS:
        kw = {"autocomplete": f"{prefix} {AUTOCOMPLETE[key]}"}
        if key == "country":
            fields[f"{prefix}_{key}"] = SelectField(
                LABELS[key], render_kw=kw, validate_choice=False
            )
        else:
            if key == "phone":
                kw["type"] = "tel"
            fields[f"{prefix}_{key}"] = StringField(
                LABELS[key], validators=[Length(max=LIMITS.get(key, 40))], render_kw=kw
            )
    return fields


CheckoutForm = type(
    "CheckoutForm",
    (FlaskForm,),
    {
        "email": EmailField(
            "Email for your receipt",
            validators=[Length(max=320)],
            render_kw={"autocomplete": "email"},
        ),
        **_address("shipping"),
        "billing": RadioField(
            "Billing address",
            choices=[
                SelectChoice("same", "Same as the shipping address"),
                SelectChoice("different", "A different billing address"),
            ],
            default="same",
            validate_choice=False,
        ),
        **_address("billing"),
        "shipping_method": RadioField("Delivery", validate_choice=False),
    },
)


def form_field(api_field: str) -> str:
    """The form's name for a field the checkout service names (``shipping_address.city``)."""
    for name, prefix in (("shipping_address.", "shipping_"), ("billing_address.", "billing_")):
        if api_field.startswith(name):
            return prefix + api_field[len(name) :]
    return {"shipping_address": "shipping_full_name", "billing_address": "billing"}.get(
        api_field, api_field
    )


class PayForm(FlaskForm):
    """The review page's Pay button, with the terms to accept (the checkout service refuses to
    start a payment without them, for the API too).

    No CSRF field of its own: the page posts the session's token (``csrf_token()``), which
    the site-wide protection checks before the view runs (app/core/csrf.py), as for every
    form; a field here would sign a second token on every press of Pay, for nothing."""

    class Meta:
        csrf = False

    accept_terms = BooleanField("I have read and accept the terms and conditions")

"""Checkout input: contact and addresses only. Prices and totals are never read from it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

REQUIRED = "This field is required."


def _address(prefix: str, required: bool) -> dict:
    check = [DataRequired(REQUIRED)] if required else [Optional()]
    return {
        f"{prefix}_full_name": StringField(
            "Full name",
            validators=[*check, Length(max=120)],
            render_kw={"autocomplete": f"{prefix} name"},
        ),
        f"{prefix}_line1": StringField(
            "Address",
            validators=[*check, Length(max=200)],
            render_kw={"autocomplete": f"{prefix} address-line1"},
        ),
        f"{prefix}_line2": StringField(
            "Apartment, suite (optional)",
            validators=[Optional(), Length(max=200)],
            render_kw={"autocomplete": f"{prefix} address-line2"},
        ),
        f"{prefix}_city": StringField(
            "Town or city",
            validators=[*check, Length(max=120)],
            render_kw={"autocomplete": f"{prefix} address-level2"},
        ),
        f"{prefix}_region": StringField(
            "County, state or region (if any)",
            validators=[Optional(), Length(max=120)],
            render_kw={"autocomplete": f"{prefix} address-level1"},
        ),
        f"{prefix}_postal_code": StringField(
            "Postcode",
            validators=[Optional(), Length(max=20)],
            render_kw={"autocomplete": f"{prefix} postal-code"},
        ),
        f"{prefix}_country": SelectField(
            "Country", validators=[*check], render_kw={"autocomplete": f"{prefix} country"}
        ),
    }


CheckoutForm = type(
    "CheckoutForm",
    (FlaskForm,),
    {
        "email": EmailField(
            "Email for your receipt",
            validators=[
                DataRequired("Enter your email address."),
                Length(max=320),
                Email("Enter an email address like name@example.com.", check_deliverability=False),
            ],
            render_kw={"autocomplete": "email"},
        ),
        **_address("shipping", True),
        "billing_same": BooleanField("Billing address is the same as shipping", default=True),
        **_address("billing", False),
        "shipping_method": RadioField(
            "Delivery", validators=[DataRequired("Choose a delivery option.")]
        ),
    },
)
ADDRESS_KEYS = ("full_name", "line1", "line2", "city", "region", "postal_code", "country")

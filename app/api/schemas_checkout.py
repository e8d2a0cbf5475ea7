"""Request and response models of the checkout resource: details, delivery options, the
server's quote and the Checkout Session (money in minor units). Request bodies are strict
like the cart's."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field, field_validator
from pydantic_core import PydanticCustomError

from app.api.openapi import MAX_ID
from app.api.schemas import DiscountOut
from app.api.schemas_cart import Strict
from app.checkout.errors import TERMS_REQUIRED


class CheckoutAddressIn(Strict):
    """The address book's fields and rules, as on the website: the name, first line and town
    must not be empty; the postcode is checked for the country (required except where
    countries have none; the format for GB, US, CA, DE, FR, NL); US, CA and AU need the
    state or province; the phone number, when given, must be valid for the country. Each
    broken rule is a 422 naming the field (``shipping_address.postal_code``)."""

    full_name: str = Field(max_length=120)
    line1: str = Field(max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(max_length=120)
    region: str = Field(default="", max_length=120)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code, e.g. GB."
    )
    phone: str = Field(default="", max_length=40, description="For the courier; optional.")


class CheckoutAddressOut(BaseModel):
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str = Field(description="E.164, or empty.")


class CheckoutDetailsIn(Strict):
    email: EmailStr | None = Field(
        default=None,
        max_length=320,
        description="For the receipt. Signed-in users default to their account's address; "
        "guests must send it.",
    )
    shipping_address: CheckoutAddressIn | None = Field(
        default=None, description="Give this or shipping_address_id."
    )
    shipping_address_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="An address from your address book."
    )
    billing_same_as_shipping: bool = True
    billing_address: CheckoutAddressIn | None = None
    billing_address_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    shipping_method: str = Field(
        min_length=1, max_length=32, description="A code from /checkout/shipping-methods."
    )


class ShippingMethodOut(BaseModel):
    code: str
    name: str
    delivery_days: str
    price: int = Field(description="Flat rate before any free-delivery threshold.")
    free_over: int | None
    cost: int = Field(description="What it costs for the cart as it is now.")
    currency: str


class ShippingMethodsOut(BaseModel):
    country: str
    items: list[ShippingMethodOut]


class ShippingMethodsQuery(BaseModel):
    country: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 code. Default: the country of your default address "
        "(signed in), else the shop's own (SHOP_DEFAULT_REGION).",
    )


class SummaryLineOut(BaseModel):
    variant_id: int
    product_name: str
    variant_options: str
    sku: str
    unit_price: int
    quantity: int
    line_total: int
    discount: int = Field(description="The line's share of the discounts on items.")
    tax: int


class CheckoutOut(BaseModel):
    """The details given and the server's quote for the cart as it is now."""

    email: str
    shipping_address: CheckoutAddressOut
    billing_address: CheckoutAddressOut
    shipping_method: str
    shipping_method_name: str
    currency: str
    lines: list[SummaryLineOut]
    subtotal: int
    shipping: int
    tax: int
    tax_inclusive: bool = Field(description="Prices include the tax (VAT) shown.")
    tax_name: str
    discount: int = Field(description="Taken off the items (the lines' discounts in all).")
    discounts: list[DiscountOut] = Field(description="The discount lines to show.")
    code: str | None = Field(description="The cart's voucher code.")
    code_problem: str | None = Field(
        description="Why the code gives nothing now; paying is refused (409 "
        "voucher-not-applicable) until it is removed or applies again."
    )
    total: int = Field(description="What the Checkout Session will charge.")
    terms_url: str = Field(
        description="The shop's terms and conditions, to link beside the acceptance the "
        "shopper gives before paying (POST /checkout/session accept_terms)."
    )
    returns_url: str = Field(description="Returns and the right of withdrawal.")
    privacy_url: str = Field(description="How the shop uses the shopper's details.")


class CheckoutSessionIn(Strict):
    accept_terms: bool = Field(
        description="True once the shopper accepted the shop's terms and conditions "
        "(terms_url in the checkout summary) in the app; the order records when. false is "
        "refused (422, a field error for accept_terms), as the website refuses Pay without "
        "its checkbox.",
        json_schema_extra={"const": True},
    )

    @field_validator("accept_terms")
    @classmethod
    def _accepted(cls, value: bool) -> bool:
        if value is not True:  # the checkout service's rule and words
            raise PydanticCustomError("terms_required", TERMS_REQUIRED)
        return value


class CheckoutSessionOut(BaseModel):
    order_number: str
    checkout_url: str = Field(description="Open it in a browser tab to pay.")
    status: str = Field(description="The order's status (pending_payment).")
    reused: bool = Field(
        description="True when an identical retry got the same order and session back."
    )

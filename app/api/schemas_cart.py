"""Request and response models of the cart resource (money in minor units); checkout's are
in schemas_checkout.py.

Request bodies are strict: ``"2"`` is not a quantity and ``1`` is not a string, as the
OpenAPI document says.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from app.api.openapi import MAX_ID
from app.api.schemas import DiscountOut, ImageOut, RawLengths

DEFAULT_MAX_QUANTITY = 10  # CART_MAX_QUANTITY's default (app.config)


def _quantity_in_range(value: int, *, allow_zero: bool) -> int:
    """The website's rule and message (app.cart.services.parse_quantity)."""
    limit = current_app.config["CART_MAX_QUANTITY"]
    if (allow_zero and value == 0) or 1 <= value <= limit:
        return value
    raise PydanticCustomError(
        "quantity_range", "Quantity must be a whole number from 1 to {limit}.", {"limit": limit}
    )


_QUANTITY_HELP = "Whole units, 1 to the shop's per-line limit (`max_quantity` in the cart, 10)."


def _quantity_schema(minimum: int):
    """``minimum``, and the shop's per-line limit as ``maximum`` (read when the OpenAPI
    document is built, so it follows CART_MAX_QUANTITY)."""

    def extra(schema: dict[str, Any]) -> None:
        schema["minimum"] = minimum
        schema["maximum"] = (
            current_app.config["CART_MAX_QUANTITY"] if has_app_context() else DEFAULT_MAX_QUANTITY
        )

    return extra


class Strict(RawLengths):
    model_config = ConfigDict(strict=True, str_strip_whitespace=True)


class AddItemIn(Strict):
    variant_id: int = Field(ge=1, le=MAX_ID, description="A variant id from the catalog.")
    quantity: int = Field(
        default=1, description=_QUANTITY_HELP, json_schema_extra=_quantity_schema(1)
    )

    @field_validator("quantity")
    @classmethod
    def _range(cls, value: int) -> int:
        return _quantity_in_range(value, allow_zero=False)


class SetQuantityIn(Strict):
    quantity: int = Field(
        description=_QUANTITY_HELP + " 0 removes the line.", json_schema_extra=_quantity_schema(0)
    )

    @field_validator("quantity")
    @classmethod
    def _range(cls, value: int) -> int:
        return _quantity_in_range(value, allow_zero=True)


class CodeIn(Strict):
    code: str = Field(
        min_length=1,
        max_length=200,
        description="A voucher code as the shopper typed it (case and spaces do not matter).",
    )


class CartLineOut(BaseModel):
    id: int = Field(description="Line id, for the /cart/items/{line_id} operations.")
    variant_id: int
    product_slug: str
    product_name: str
    variant_options: str = Field(description='e.g. "Size: M, Colour: Blue"; may be empty.')
    sku: str
    image: ImageOut | None
    quantity: int
    unit_price: int = Field(description="Today's catalog price.")
    line_total: int
    price_was: int | None = Field(
        description="The price when it was added, shown once after a price change."
    )
    available: int | None = Field(
        description="Units left for this cart (its own unpaid order's reservation counts as "
        "its own); null when stock is not tracked."
    )
    problem: str | None = Field(description="Why this line blocks checkout, if it does.")


class SavedItemOut(BaseModel):
    id: int = Field(description="Saved item id, for the /cart/saved/{saved_id} operations.")
    variant_id: int
    product_slug: str
    product_name: str
    variant_options: str
    sku: str
    image: ImageOut | None
    price: int
    in_stock: bool


class CartOut(BaseModel):
    cart_token: str | None = Field(
        description="Guests: send it back as the X-Cart-Token header (and keep it for "
        "login, which merges the cart). Null for signed-in users and for no cart yet."
    )
    currency: str
    lines: list[CartLineOut]
    saved: list[SavedItemOut] = Field(description="Saved for later, newest first.")
    subtotal: int = Field(description="Sum of the lines that can be checked out.")
    code: str | None = Field(description="The voucher code on the cart (one per cart).")
    code_problem: str | None = Field(
        description="Why the cart's code gives nothing now (say, a minimum spend no longer "
        "met); checkout refuses to pay until it applies again or is removed."
    )
    discounts: list[DiscountOut] = Field(
        description="Automatic promotions and the code, as applied to the lines now."
    )
    discount: int = Field(description="Taken off the items in all.")
    after_discounts: int = Field(
        description="subtotal - discount; delivery and tax come at checkout."
    )
    item_count: int
    max_quantity: int = Field(description="Most units of one line.")
    max_lines: int = Field(description="Most different items in a cart.")
    can_check_out: bool
    messages: list[str] = Field(
        description="What this request changed beyond what was asked (capped quantities, "
        "merged items), in the website's words."
    )

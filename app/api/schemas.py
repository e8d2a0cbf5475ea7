"""Request and response models of the API (the single source of validation, serialization
and the OpenAPI document). Money is in integer minor units (cents)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


def plain_integer(value: object) -> object:
    """A query integer as JSON Schema means it: not " 5", "+5", "5.0" or "1_0", which
    Python's int() would take. Use as ``field_validator("limit", mode="before")``."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,9}", value):
        raise PydanticCustomError("int_parsing", "Input should be a valid integer")
    return value


class Problem(BaseModel):
    """An RFC 9457 problem. ``code`` is stable; ``errors`` maps fields to messages."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    errors: dict[str, list[str]] | None = None


class ApiInfo(BaseModel):
    name: str
    version: str


# -- accounts and tokens ------------------------------------------------------------------------


class RawLengths(BaseModel):
    """Lengths are checked on the text as sent, as the document's ``maxLength`` means, before
    ``str_strip_whitespace`` trims it: "\\r" + 120 characters is too long for a 120 limit."""

    @field_validator("*", mode="before")
    @classmethod
    def _raw_length(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            limits = [getattr(m, "max_length", None) for m in (field.metadata if field else [])]
            limit = next((lim for lim in limits if lim is not None), None)
            if limit is not None and len(value) > limit:
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": limit},
                )
        return value


class RegisterIn(RawLengths):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(
        default=None,
        max_length=32,
        description="Current code from the authenticator app, or a recovery code; "
        "required when the account has two-factor authentication on.",
    )


class SignInLinkIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)


class SignInLinkUseIn(BaseModel):
    token: str = Field(
        min_length=1,
        max_length=256,
        description="The last part of the link's path (/account/login/link/{token}).",
    )
    totp: str | None = Field(
        default=None,
        max_length=32,
        description="Current code from the authenticator app, or a recovery code; "
        "required when the account has two-factor authentication on.",
    )


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class LoginOut(TokenOut):
    cart_messages: list[str] = Field(
        default_factory=list,
        description="What happened to the guest cart named by X-Cart-Token (merged, capped).",
    )


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    email_verified: bool
    two_factor_enabled: bool
    created_at: datetime


# -- catalog ------------------------------------------------------------------------------------


class CategoryOut(BaseModel):
    id: int
    name: str
    slug_path: str
    description: str
    children: list[CategoryOut]


class CategoryTreeOut(BaseModel):
    items: list[CategoryOut]


class ImageOut(BaseModel):
    alt_text: str
    width: int
    height: int
    urls: dict[str, str] = Field(description='Renditions by "<size>.<ext>", e.g. "medium.webp".')


class ProductCardOut(BaseModel):
    id: int
    slug: str
    name: str
    brand: str
    currency: str
    price_min: int | None
    price_max: int | None
    in_stock: bool
    image: ImageOut | None


class BrandFacetOut(BaseModel):
    name: str
    count: int = Field(description="Products of this brand under the other filters.")


class SpecValueOut(BaseModel):
    value: str
    count: int = Field(description="Products with this value under the other filters.")


class SpecFacetOut(BaseModel):
    name: str = Field(description="A specification staff made filterable, e.g. Material.")
    values: list[SpecValueOut] = Field(description="Most products first; filter with `spec`.")


class ProductPageOut(BaseModel):
    items: list[ProductCardOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    total: int
    notices: list[str] = Field(description="What was ignored or adjusted in the filters.")
    brands: list[BrandFacetOut] = Field(
        default_factory=list,
        description="The brand facet: up to 12 brands under the other filters, most products "
        "first; pass one as `brand`.",
    )
    specifications: list[SpecFacetOut] = Field(
        default_factory=list,
        description="A facet per filterable specification, under the other filters.",
    )
    searched_for: str | None = Field(
        default=None,
        description="When `q` found nothing and its spelling was corrected against the "
        'catalog\'s words: the words these results are for (say "Showing results for …"). '
        "Send `as_typed=1` to search for `q` exactly as typed.",
    )


class SuggestionQuery(BaseModel):
    q: str = Field(default="", max_length=500, description="What the shopper has typed so far.")


class ProductSuggestionOut(BaseModel):
    id: int
    slug: str
    name: str
    price_min: int | None = Field(description="Lowest variant price in minor units.")
    currency: str


class CategorySuggestionOut(BaseModel):
    name: str
    path: str = Field(description="Category slug path, for `category` in /products.")


class SuggestionsOut(BaseModel):
    query: str = Field(description="The words suggested for, as the shop read them.")
    products: list[ProductSuggestionOut] = Field(description="Best matches first, at most 5.")
    categories: list[CategorySuggestionOut] = Field(description="At most 3.")
    brands: list[str] = Field(description="At most 3; search for one with `q`.")


class ProductListQuery(BaseModel):
    q: str | None = Field(default=None, max_length=500, description="Search words.")
    category: str | None = Field(
        default=None, max_length=500, description="Category slug path, e.g. clothing/men."
    )
    min_price: str | None = Field(
        default=None, max_length=40, description="Lowest price in major units, e.g. 12.50."
    )
    max_price: str | None = Field(default=None, max_length=40, description="Highest price.")
    in_stock: str | None = Field(
        default=None, max_length=10, description="1/true/yes: only products in stock."
    )
    sort: str | None = Field(
        default=None, max_length=20, description="relevance, newest, price, -price or name."
    )
    brand: str | None = Field(
        default=None, max_length=120, description="Only this brand (as in `brands`)."
    )
    spec: str | None = Field(
        default=None,
        max_length=250,
        description="Only products whose specification has this value, as `Name:value` "
        "(e.g. `Material:Wool`, from `specifications`); repeat it for several names.",
    )
    as_typed: str | None = Field(
        default=None,
        max_length=10,
        description="1/true: search for `q` exactly as typed, never a corrected spelling.",
    )
    limit: int = Field(default=24, ge=1, le=100, description="Page size (first page).")
    _plain_limit = field_validator("limit", mode="before")(plain_integer)
    cursor: str | None = Field(
        default=None,
        max_length=200,
        description="Opaque cursor from next_cursor; later pages keep its page size.",
    )


class VariantOut(BaseModel):
    id: int
    sku: str
    options: dict[str, str]
    price: int
    compare_at_price: int | None
    currency: str
    available: int | None = Field(description="Units that can be bought; null when untracked.")
    in_stock: bool


class ProductOut(BaseModel):
    id: int
    slug: str
    name: str
    brand: str
    description_html: str
    description_text: str
    category: str | None = Field(description="Slug path of the product's category.")
    currency: str
    price_min: int | None
    price_max: int | None
    in_stock: bool
    attributes: dict[str, Any]
    variants: list[VariantOut]
    images: list[ImageOut]


class DiscountOut(BaseModel):
    """A discount line: a promotion (automatic, or by the code shown) and what it saves."""

    name: str = Field(description="The promotion's name, as shoppers see it.")
    code: str | None = Field(description="The voucher code; null for automatic promotions.")
    target: Literal["items", "shipping"] = Field(
        description="`items`: taken off the lines (the lines' `discount`); `shipping`: free "
        "delivery, `amount` being the delivery price it saves."
    )
    amount: int = Field(
        description="Minor units saved. In the cart, free delivery's amount is 0 until "
        "checkout knows the delivery option."
    )

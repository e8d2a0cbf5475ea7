"""Request and response models of the profile resources (/me, addresses, preferences).

Shapes only: the rules (phone numbers, postcodes per country, password policy) are the
website's services' (app.accounts), so both refuse the same input with the same messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import UserOut

_PHONE = "Mobile number, national or international (+ and country code); empty to remove."


class ProfileOut(UserOut):
    phone: str = Field(description="E.164 (e.g. +447400123456), or empty.")


class ProfileUpdateIn(BaseModel):
    """Only the fields sent change; ``null`` means unchanged."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40, description=_PHONE)


# -- addresses ----------------------------------------------------------------------------------


class AddressOut(BaseModel):
    id: int
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    country_name: str
    phone: str
    is_default_shipping: bool
    is_default_billing: bool
    created_at: datetime
    updated_at: datetime


class AddressListOut(BaseModel):
    items: list[AddressOut]
    max_addresses: int = Field(description="How many addresses an account can keep.")


class AddressIn(BaseModel):
    """Validated for its country as on the website: a postcode where the country has them
    (in its format for US, GB, DE, FR, NL and CA), a state or province for US, CA and AU."""

    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(min_length=1, max_length=120)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=120)
    region: str = Field(default="", max_length=120, description="State, province or county.")
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code.")
    phone: str = Field(default="", max_length=40, description="For delivery questions.")
    default_shipping: bool = Field(
        default=False, description="Make this the default shipping address."
    )
    default_billing: bool = Field(
        default=False, description="Make this the default billing address."
    )


class AddressPatchIn(BaseModel):
    """Only the fields sent change; the result is validated as a whole. A default can be
    moved to this address (``true``), not taken away: ``false`` is ignored."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, max_length=120)
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    phone: str | None = Field(default=None, max_length=40)
    default_shipping: bool | None = None
    default_billing: bool | None = None


# -- notification preferences -------------------------------------------------------------------


class PreferencesOut(BaseModel):
    email_transactional: bool = Field(description="Order and account email; always on.")
    email_marketing: bool
    sms_transactional: bool
    sms_marketing: bool
    whatsapp_transactional: bool
    whatsapp_marketing: bool
    locked: list[str] = Field(description="Choices that cannot be switched off.")


class PreferencesIn(BaseModel):
    """Every choice (PUT replaces them all). SMS and WhatsApp need a phone number on the
    profile (422 otherwise). ``email_transactional`` is always on; it may be omitted."""

    model_config = ConfigDict(extra="forbid", strict=True)  # 0, 1 and "yes" are not booleans

    email_transactional: Literal[True] = True
    email_marketing: bool
    sms_transactional: bool
    sms_marketing: bool
    whatsapp_transactional: bool
    whatsapp_marketing: bool


# -- password and deletion ----------------------------------------------------------------------


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class AccountDeleteIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024, description="Confirms it is you.")

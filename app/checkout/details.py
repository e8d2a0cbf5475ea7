"""Checkout details: the receipt email, the addresses and the delivery option of a cart.

One record per cart (:class:`CheckoutDetails`), whichever door set it. Addresses follow the
address book's rules exactly (``app.accounts.addresses.clean_address``: the same fields,
required lines, region and postcode rules per country, phone numbers), so an address that
can be saved in the book can be shipped to, and the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from app.accounts.addresses import ADDRESS_FIELDS, clean_address
from app.accounts.models import Address, User
from app.accounts.profile import FieldErrors, default_region
from app.cart.models import Cart
from app.cart.queries import CartView, build_cart_view
from app.cart.services import lock_cart
from app.checkout import errors
from app.checkout.errors import CheckoutError, DetailsInvalid
from app.checkout.models import CheckoutDetails
from app.core.numbers import MAX_ID
from app.db import utcnow
from app.extensions import db
from app.orders.pricing import methods_for
from app.store.models import ShippingMethod

EMAIL_REQUIRED = "Enter your email address."
EMAIL_INVALID = "Enter an email address like name@example.com."
BILLING_REQUIRED = "Enter the billing address, or choose “same as shipping”."
METHOD_REFUSED = "We do not deliver there with that option."


@dataclass(frozen=True)
class DetailsInput:
    """What a shopper sent: each address typed in, or (signed in) an address-book id."""

    email: str
    shipping_method: str
    shipping: Mapping[str, Any] | None = None
    shipping_address_id: int | None = None
    billing_same: bool = True
    billing: Mapping[str, Any] | None = None
    billing_address_id: int | None = None


def details_for(cart: Cart | None) -> CheckoutDetails | None:
    if cart is None:
        return None
    return db.session.execute(_details_statement(), {"cart_id": cart.id}).scalar_one_or_none()


@functools.cache
def _details_statement() -> sa.Select[CheckoutDetails]:
    """:func:`details_for`'s query, built once per process (the cart bound at each run)."""
    cart_id = sa.bindparam("cart_id", type_=sa.Integer)
    return sa.select(CheckoutDetails).where(CheckoutDetails.cart_id == cart_id)


def method_for(code: str | None, country: str) -> ShippingMethod | None:
    """The active delivery option ``code`` when it serves ``country``."""
    return next((m for m in methods_for(country) if m.code == code), None)


def default_country(user: User | None) -> str:
    """Where a new checkout starts: the customer's default address, else the shop's region."""
    address = _default_address(user)
    return address.country if address is not None else default_region()


def _default_address(user: User | None) -> Address | None:
    if user is None:
        return None
    return next((a for a in user.addresses if a.is_default_shipping), None)


def starting_details(cart: Cart | None, user: User | None) -> dict[str, Any]:
    """What the form starts with: the cart's saved details, else the account's email and
    default address, else the shop's region as the country."""
    saved = details_for(cart)
    if saved is not None:
        return {
            "email": saved.email,
            "shipping": dict(saved.shipping_address),
            "billing_same": saved.billing_same,
            "billing": dict(saved.billing_address or {}),
            "shipping_method": saved.shipping_method,
        }
    address = _default_address(user)
    shipping = (
        {key: getattr(address, key) or "" for key in ADDRESS_FIELDS}
        if address is not None
        else {"country": default_region()}
    )
    first = next(iter(methods_for(shipping["country"])), None)
    return {
        "email": user.email if user is not None else "",
        "shipping": shipping,
        "billing_same": True,
        "billing": {"country": shipping["country"]},
        "shipping_method": first.code if first is not None else "",
    }


def check_cart(view: CartView) -> None:
    """A cart can be checked out when it has lines and none of them needs attention."""
    if not view.lines:
        raise CheckoutError("Your cart is empty.", code=errors.CART_EMPTY)
    if not view.can_check_out:
        raise CheckoutError(
            "Some items in your cart need your attention first.",
            code=errors.CART_NEEDS_ATTENTION,
        )


def save_details(cart: Cart | None, user: User | None, data: DetailsInput) -> CheckoutDetails:
    """Check everything, then store it for the cart. :class:`DetailsInvalid` lists every
    problem with the details; a cart that cannot be checked out is a :class:`CheckoutError`.
    Either way nothing is stored."""
    problems: dict[str, list[str]] = {}
    email = _email(data.email, user, problems)
    shipping = _address(
        "shipping_address", data.shipping, data.shipping_address_id, user, problems, required=True
    )
    billing = None
    if not data.billing_same:
        billing = _address(
            "billing_address", data.billing, data.billing_address_id, user, problems, required=True
        )
        if billing is not None and _same_place(billing, shipping):
            billing = None  # the same address typed twice is simply "the same"
    if shipping is not None and method_for(data.shipping_method, shipping["country"]) is None:
        problems.setdefault("shipping_method", []).append(METHOD_REFUSED)
    if problems:
        raise DetailsInvalid(problems)
    check_cart(build_cart_view(cart))
    assert shipping is not None and cart is not None
    lock_cart(cart)  # concurrent saves for one cart: the later one updates the first one's row
    details = details_for(cart)
    if details is None:
        details = CheckoutDetails(cart_id=cart.id)
        db.session.add(details)
    details.email = email
    details.shipping_address = shipping
    details.billing_address = billing
    details.shipping_method = data.shipping_method
    details.updated_at = utcnow()
    db.session.flush()
    return details


def forget_details(cart_id: int) -> None:
    """After payment: the next purchase from this cart starts afresh (a shared computer)."""
    db.session.execute(sa.delete(CheckoutDetails).where(CheckoutDetails.cart_id == cart_id))


def _email(raw: str, user: User | None, errors: dict[str, list[str]]) -> str:
    text = (raw or "").strip()
    if not text and user is not None:
        text = user.email
    if not text:
        errors["email"] = [EMAIL_REQUIRED]
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors["email"] = [EMAIL_INVALID]
        return ""


def _address(
    name: str,
    typed: Mapping[str, Any] | None,
    book_id: int | None,
    user: User | None,
    errors: dict[str, list[str]],
    *,
    required: bool,
) -> dict[str, str] | None:
    if typed is not None and book_id is not None:
        errors.setdefault(name, []).append(f"Send {name} or {name}_id, not both.")
        return None
    if book_id is not None:
        address = _book_address(user, book_id)
        if address is None:
            errors.setdefault(f"{name}_id", []).append(
                "There is no such address in your address book."
            )
        return address
    if typed is None:
        if required:
            errors.setdefault(name, []).append(
                BILLING_REQUIRED if name == "billing_address" else "This field is required."
            )
        return None
    try:
        return clean_address({key: str(typed.get(key) or "") for key in ADDRESS_FIELDS})
    except FieldErrors as exc:
        for field, message in exc.errors.items():
            errors.setdefault(f"{name}.{field}", []).append(message)
        return None


def _book_address(user: User | None, address_id: int) -> dict[str, str] | None:
    """An address of the caller's own book (anybody else's does not exist)."""
    if user is None or not 1 <= address_id <= MAX_ID:
        return None
    address = db.session.execute(
        sa.select(Address).where(Address.id == address_id, Address.user_id == user.id)
    ).scalar_one_or_none()
    if address is None:
        return None
    return {key: getattr(address, key) or "" for key in ADDRESS_FIELDS}


def _same_place(a: Mapping[str, str], b: Mapping[str, str] | None) -> bool:
    return b is not None and all(a.get(k, "") == b.get(k, "") for k in ADDRESS_FIELDS)

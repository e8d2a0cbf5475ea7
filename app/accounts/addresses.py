"""Address book: country-aware validation and the address services (IDOR-safe lookups)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from flask import abort

from app.accounts.audit import audit
from app.accounts.models import Address, User
from app.accounts.profile import (
    MAX_ADDRESSES,
    FieldErrors,
    country_name,
    country_names,
    normalise_phone,
)
from app.accounts.services import AccountError
from app.extensions import db

REGION_REQUIRED = {"US": "state", "CA": "province", "AU": "state"}
REGION_LABELS = {"US": "State", "CA": "Province", "AU": "State"}
DEFAULT_REGION_LABEL = "State, province or county"

# Countries without postcodes, and Ireland, where the Eircode is optional.
POSTCODE_OPTIONAL = frozenset(
    {
        "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF",
        "CG", "CI", "CK", "CM", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY",
        "HK", "IE", "KI", "KM", "KN", "KP", "LY", "ML", "MO", "MR", "MW", "NR", "NU", "QA",
        "RW", "SB", "SC", "SL", "SR", "SS", "ST", "SY", "TD", "TF", "TG", "TK", "TL", "TO",
        "TT", "TV", "UG", "VU", "YE", "ZW",
    }
)  # fmt: skip

_UK = (
    r"^(GIR0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)


@dataclass(frozen=True)
class PostcodeRule:
    pattern: re.Pattern[str]
    example: str
    compact: bool = False  # match without spaces, store with one before the last 3 characters


POSTCODE_RULES = {
    "US": PostcodeRule(re.compile(r"^[0-9]{5}(-[0-9]{4})?$"), "12345 or 12345-6789"),
    "GB": PostcodeRule(re.compile(_UK), "SW1A 1AA", compact=True),
    "DE": PostcodeRule(re.compile(r"^[0-9]{5}$"), "10115"),
    "FR": PostcodeRule(re.compile(r"^[0-9]{5}$"), "75001"),
    "NL": PostcodeRule(re.compile(r"^[0-9]{4}\s?[A-Z]{2}$"), "1012 AB"),
    "CA": PostcodeRule(re.compile(r"^[A-Z][0-9][A-Z]\s?[0-9][A-Z][0-9]$"), "K1A 0B1"),
}
POSTCODE_NAMES = {"US": "ZIP code", "GB": "postcode", "IE": "Eircode"}


def postcode_name(country: str) -> str:
    return POSTCODE_NAMES.get(country, "postal code")


def calling_code_hint(region: str) -> str:
    return f"+{phonenumbers.country_code_for_region(region)}"


def region_label(country: str) -> str:
    return REGION_LABELS.get(country, DEFAULT_REGION_LABEL)


def normalise_postcode(country: str, raw: str) -> str:
    """The postcode in its usual form; ValueError with a readable message when it is wrong."""
    value = " ".join((raw or "").split()).upper()
    name = postcode_name(country)
    if not value:
        if country in POSTCODE_OPTIONAL:
            return ""
        raise ValueError(f"Enter the {name}.")
    if len(value) > 20:
        raise ValueError(f"The {name} can be at most 20 characters long.")
    rule = POSTCODE_RULES.get(country)
    if rule is None:
        return value
    candidate = value.replace(" ", "") if rule.compact else value
    if not rule.pattern.match(candidate):
        raise ValueError(
            f"Enter a valid {name} for {country_name(country)}, for example {rule.example}."
        )
    if rule.compact:
        return f"{candidate[:-3]} {candidate[-3:]}"
    if country in ("NL", "CA"):  # one space before the last 2 (NL) or 3 (CA) characters
        compact = candidate.replace(" ", "")
        cut = 4 if country == "NL" else 3
        return f"{compact[:cut]} {compact[cut:]}"
    return value


ADDRESS_FIELDS = (
    "full_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
)
_LIMITS = {"full_name": 120, "line1": 200, "line2": 200, "city": 120, "region": 120}


def address_lines(address: Mapping[str, object] | None) -> list[str]:
    """A postal address as printed (emails, invoices): its filled lines, the country by
    name last. Pages use the ``postal_address`` macro, which shows the same."""
    address = address or {}
    keys = ("full_name", "line1", "line2", "city", "region", "postal_code")
    lines = [str(address.get(key) or "").strip() for key in keys]
    code = str(address.get("country") or "")
    lines.append(country_name(code) if code else "")
    return [line for line in lines if line]


def clean_address(data: Mapping[str, str | None]) -> dict[str, str]:
    """Check and normalise address fields for their country; FieldErrors lists every problem."""
    values = {key: " ".join((data.get(key) or "").split()) for key in ADDRESS_FIELDS}
    errors: dict[str, str] = {}
    country = values["country"].upper()
    values["country"] = country
    if country not in country_names():
        errors["country"] = "Choose a country from the list."
    for key, message in (
        ("full_name", "Enter the name of the person who receives deliveries."),
        ("line1", "Enter the first line of the address."),
        ("city", "Enter the town or city."),
    ):
        if not values[key]:
            errors[key] = message
    for key, limit in _LIMITS.items():
        if key not in errors and len(values[key]) > limit:
            errors[key] = f"Use at most {limit} characters."
    if country in REGION_REQUIRED and not values["region"]:
        errors["region"] = f"Enter the {REGION_REQUIRED[country]}."
    if "country" not in errors:
        try:
            values["postal_code"] = normalise_postcode(country, values["postal_code"])
        except ValueError as exc:
            errors["postal_code"] = str(exc)
    try:
        values["phone"] = normalise_phone(
            values["phone"], country if "country" not in errors else None
        )
    except ValueError as exc:
        errors["phone"] = str(exc)
    if errors:
        raise FieldErrors(errors)
    return values


def _lock_user(user_id: int) -> None:
    """Serialise address-book changes of one user (PostgreSQL row lock; SQLite has one writer)."""
    db.session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())


def list_addresses(user_id: int) -> list[Address]:
    return list(
        db.session.execute(
            sa.select(Address).where(Address.user_id == user_id).order_by(Address.id)
        ).scalars()
    )


def get_address_for_user_or_404(user_id: int, address_id: int) -> Address:
    """Someone else's address does not exist, as far as this user can tell."""
    address = db.session.execute(
        sa.select(Address).where(Address.id == address_id, Address.user_id == user_id)
    ).scalar_one_or_none()
    if address is None:
        abort(404)
    return address


def count_addresses(user_id: int) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Address).where(Address.user_id == user_id)
    ).scalar_one()


def _make_default(user_id: int, address: Address, kind: str) -> None:
    """Exactly one default of a kind per user: this one, and no other row."""
    attr = f"is_default_{kind}"
    for other in list_addresses(user_id):
        setattr(other, attr, other.id == address.id)
    db.session.flush()


def add_address(
    user: User,
    data: Mapping[str, str | None],
    *,
    default_shipping: bool = False,
    default_billing: bool = False,
) -> Address:
    values = clean_address(data)
    _lock_user(user.id)
    existing = count_addresses(user.id)
    if existing >= MAX_ADDRESSES:
        raise AccountError(
            f"You can keep up to {MAX_ADDRESSES} addresses. Delete one you no longer need "
            "to add another."
        )
    address = Address(user_id=user.id, **values)
    db.session.add(address)
    db.session.flush()
    if default_shipping or existing == 0:
        _make_default(user.id, address, "shipping")
    if default_billing or existing == 0:
        _make_default(user.id, address, "billing")
    audit("address.added", actor_id=user.id, target_user_id=user.id, target=f"address:{address.id}")
    return address


def update_address(
    user: User,
    address: Address,
    data: Mapping[str, str | None],
    *,
    default_shipping: bool = False,
    default_billing: bool = False,
) -> Address:
    """Defaults can be moved to an address, not taken away: unticking is ignored."""
    if address.user_id != user.id:
        abort(404)
    values = clean_address(data)
    _lock_user(user.id)
    for key, value in values.items():
        setattr(address, key, value)
    db.session.flush()
    if default_shipping:
        _make_default(user.id, address, "shipping")
    if default_billing:
        _make_default(user.id, address, "billing")
    audit(
        "address.updated", actor_id=user.id, target_user_id=user.id, target=f"address:{address.id}"
    )
    return address


def set_default_address(user: User, address: Address, kind: str) -> None:
    if kind not in ("shipping", "billing"):
        raise AccountError("Choose shipping or billing.")
    if address.user_id != user.id:
        abort(404)
    _lock_user(user.id)
    _make_default(user.id, address, kind)
    audit(
        "address.default_set",
        actor_id=user.id,
        target_user_id=user.id,
        target=f"address:{address.id}",
        detail=f"kind={kind}",
    )


def delete_address(user: User, address: Address) -> None:
    """Delete; a default passes to the oldest remaining address."""
    if address.user_id != user.id:
        abort(404)
    _lock_user(user.id)
    was_shipping, was_billing = address.is_default_shipping, address.is_default_billing
    address_id = address.id
    if address in user.addresses:
        user.addresses.remove(address)
    db.session.delete(address)
    db.session.flush()
    remaining = list_addresses(user.id)
    if remaining:
        if was_shipping:
            _make_default(user.id, remaining[0], "shipping")
        if was_billing:
            _make_default(user.id, remaining[0], "billing")
    audit(
        "address.deleted", actor_id=user.id, target_user_id=user.id, target=f"address:{address_id}"
    )


# --- Notification preferences ----------------------------------------------------------

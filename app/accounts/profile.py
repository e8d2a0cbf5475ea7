"""Profile verbs: name and phone, email change, address book, notification preferences and
account deletion. Services flush and never commit; the request commits at the edge."""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import babel
import phonenumbers
import sqlalchemy as sa
from flask import abort, current_app

from app.accounts.audit import audit
from app.accounts.models import Address, RecoveryCode, User
from app.accounts.passwords import hash_password, verify_password
from app.accounts.services import (
    AccountError,
    InvalidCredentials,
    clear_throttle,
    get_user_by_email,
    normalise_email,
    send_verification,
)
from app.accounts.sessions import revoke_all
from app.db import utcnow
from app.extensions import db
from app.notifications.models import Category, Channel, NotificationPreference, Suppression
from app.notifications.services import LOCKED, is_allowed, set_preference

MAX_ADDRESSES = 20


class FieldErrors(AccountError):
    """Input that breaks a rule, by field name; every message is safe to show."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = dict(errors)


# --- Countries and phone numbers -------------------------------------------------------

# Codes CLDR names that are not ISO 3166-1 countries (groupings, reserved, pseudo-locales).
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@functools.cache
def countries() -> tuple[tuple[str, str], ...]:
    """(code, English name) for ISO 3166 alpha-2 countries, sorted by name."""
    territories = babel.Locale("en").territories
    pairs = [
        (code, name)
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code.isupper() and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(pairs, key=lambda pair: _sort_key(pair[1])))


def _sort_key(name: str) -> str:
    """Alphabetical as people expect it: "Åland Islands" next to "Albania", not after "Zambia"."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@functools.cache
def country_names() -> dict[str, str]:
    return dict(countries())


def country_name(code: str) -> str:
    return country_names().get(code, code)


def default_region() -> str:
    region = str(current_app.config.get("SHOP_DEFAULT_REGION", "GB") or "GB").upper()
    return region if region in country_names() else "GB"


def phone_problem(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    sample = (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if example
        else "+44 7400 123456"
    )
    calling_code = phonenumbers.country_code_for_region(region)
    return (
        f"Enter a valid phone number, for example {sample}. If it is not a +{calling_code} "
        "number, start with + and its country code."
    )


def normalise_phone(raw: str | None, region: str | None = None) -> str:
    """A phone number as E.164 ("" when empty); ValueError with a readable message otherwise."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    region = region if region in country_names() else default_region()
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(phone_problem(region)) from None
    if not (phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)):
        raise ValueError(phone_problem(region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Profile and email -----------------------------------------------------------------


def update_profile(user: User, *, name: str, phone: str) -> list[str]:
    """Change name and phone; returns the names of the fields that changed."""
    name = " ".join((name or "").split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Enter your name."
    try:
        phone = normalise_phone(phone)
    except ValueError as exc:
        errors["phone"] = str(exc)
    if errors:
        raise FieldErrors(errors)
    changed = [
        field
        for field, value in (("name", name), ("phone", phone))
        if getattr(user, field) != value
    ]
    user.name, user.phone = name, phone
    db.session.flush()
    if changed:
        audit(
            "profile.updated",
            actor_id=user.id,
            target_user_id=user.id,
            detail="fields=" + ",".join(changed),
        )
    return changed


def request_email_change(user: User, *, password: str, new_email: str) -> str:
    """Re-authenticate, then send a confirmation link to the new address. The change happens
    when that link is opened (services.verify_email), which also tells the old address."""
    if not user.is_verified:
        raise AccountError(
            f"Confirm your current email address ({user.email}) first: open the link we sent "
            "you, or ask for a new one on your account page. Then you can change it."
        )
    if not verify_password(user.password_hash, password or ""):
        raise FieldErrors({"current_password": "Your password is not correct."})
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise FieldErrors({"new_email": "That is already your email address."})
    if get_user_by_email(new_email) is not None:
        raise FieldErrors(
            {
                "new_email": "Another account already uses that email address. "
                "Choose a different one."
            }
        )
    user.pending_email = new_email
    db.session.flush()
    send_verification(user, email=new_email)
    audit(
        "account.email_change_requested",
        actor_id=user.id,
        target_user_id=user.id,
        detail=f"{user.email} -> {new_email}",
    )
    return new_email


# --- Address book ----------------------------------------------------------------------

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
    r"^(GIR0AA|[A-PR-UWYZ](\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRVWXY])"
    r"\d[ABD-HJLNP-UW-Z]{2})$"
)


@dataclass(frozen=True)
class PostcodeRule:
    pattern: re.Pattern[str]
    example: str
    compact: bool = False  # match without spaces, store with one before the last 3 characters


POSTCODE_RULES = {
    "US": PostcodeRule(re.compile(r"^\d{5}(-\d{4})?$"), "12345 or 12345-6789"),
    "GB": PostcodeRule(re.compile(_UK), "SW1A 1AA", compact=True),
    "DE": PostcodeRule(re.compile(r"^\d{5}$"), "10115"),
    "FR": PostcodeRule(re.compile(r"^\d{5}$"), "75001"),
    "NL": PostcodeRule(re.compile(r"^\d{4}\s?[A-Z]{2}$"), "1012 AB"),
    "CA": PostcodeRule(re.compile(r"^[A-Z]\d[A-Z]\s?\d[A-Z]\d$"), "K1A 0B1"),
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

CHANNEL_LABELS = {Channel.EMAIL: "Email", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}
CATEGORY_LABELS = {
    Category.TRANSACTIONAL: "Order and account updates",
    Category.MARKETING: "News and offers",
}
PREFERENCE_KEYS = [
    (channel, category) for channel in CHANNEL_LABELS for category in CATEGORY_LABELS
]


def preference_address(user: User, channel: str) -> str:
    return user.email if channel == Channel.EMAIL else user.phone


def current_preferences(user: User) -> dict[tuple[str, str], bool]:
    return {
        (channel, category): is_allowed(
            preference_address(user, channel), user.id, channel, category
        )
        for channel, category in PREFERENCE_KEYS
    }


def save_preferences(user: User, choices: Mapping[tuple[str, str], bool]) -> None:
    """Store every choice; locked ones are ignored. SMS and WhatsApp need a phone number."""
    wanted = {key: bool(choices.get(key)) for key in PREFERENCE_KEYS if key not in LOCKED}
    errors: dict[str, str] = {}
    if not user.phone:
        for (channel, category), enabled in wanted.items():
            if enabled and channel != Channel.EMAIL:
                errors[f"{channel}_{category}"] = (
                    f"Add a mobile phone number to your profile to get "
                    f"{CHANNEL_LABELS[Channel(channel)]} messages."
                )
    if errors:
        raise FieldErrors(errors)
    before = current_preferences(user)
    for (channel, category), enabled in wanted.items():
        set_preference(user.id, channel, category, enabled)
    if wanted.get((Channel.EMAIL, Category.MARKETING)):
        # Opting in again on the site overrides an earlier one-click unsubscribe.
        db.session.execute(
            sa.delete(Suppression).where(
                Suppression.address == user.email.strip().lower(),
                Suppression.category == Category.MARKETING,
            )
        )
    changed = sorted(
        f"{c}.{k}={'on' if v else 'off'}" for (c, k), v in wanted.items() if before[(c, k)] != v
    )
    if changed:
        audit(
            "preferences.updated",
            actor_id=user.id,
            target_user_id=user.id,
            detail=" ".join(changed),
        )


# --- Account deletion ------------------------------------------------------------------


def delete_account(user: User, *, password: str) -> None:
    """Anonymise the account and remove what identifies the person; orders are kept."""
    if user.is_staff:
        raise AccountError(
            "Staff and admin accounts can't be deleted here. Ask another admin to remove "
            "your account."
        )
    if not verify_password(user.password_hash, password or ""):
        raise InvalidCredentials("Your password is not correct.")
    old_email = user.email
    user.email = f"deleted-{user.id}@invalid.example"
    user.name = "Deleted customer"
    user.phone = ""
    user.pending_email = ""
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it
    user.totp_secret = ""
    user.totp_enabled_at = None
    user.deleted_at = utcnow()
    user.is_active_account = False
    user.addresses.clear()
    db.session.flush()
    db.session.execute(sa.delete(Address).where(Address.user_id == user.id))
    db.session.execute(
        sa.delete(NotificationPreference).where(NotificationPreference.user_id == user.id)
    )
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    clear_throttle(old_email)
    revoke_all(user.id)
    audit("account.deleted", actor_id=user.id, target_user_id=user.id)

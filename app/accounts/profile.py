"""Profile verbs: name and phone, email change, address book, notification preferences and
account deletion. Services flush and never commit; the request commits at the edge."""

from __future__ import annotations

import functools
import secrets
import unicodedata
from collections.abc import Mapping

import babel
import phonenumbers
import sqlalchemy as sa
from flask import current_app

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
from app.inventory.models import StockWaiter
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
    if "name" in changed:
        from app.payments.customers import account_changed

        account_changed(user)
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
    anonymise_account(user, actor_id=user.id)


def anonymise_account(user: User, *, actor_id: int | None, detail: str = "") -> None:
    """The deletion itself, also used by staff acting on a request (checks are the caller's)."""
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
    from app.accounts.pictures import remove_picture

    remove_picture(user, audit_it=False)  # the files go once the deletion commits
    user.addresses.clear()
    db.session.flush()
    db.session.execute(sa.delete(Address).where(Address.user_id == user.id))
    db.session.execute(
        sa.delete(NotificationPreference).where(NotificationPreference.user_id == user.id)
    )
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(  # "tell me when it is back" requests: the address goes with them
        sa.delete(StockWaiter).where(
            sa.or_(StockWaiter.user_id == user.id, StockWaiter.email == old_email)
        )
    )
    clear_throttle(old_email)
    revoke_all(user.id)
    from app.payments.customers import account_changed

    account_changed(user)  # its Customer at the provider, and the cards saved there, go too
    audit("account.deleted", actor_id=actor_id, target_user_id=user.id, detail=detail)

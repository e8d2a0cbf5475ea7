"""Profile resources: update, address book, notification preferences, password change,
account deletion.

Thin: each operation calls the website's own services (app.accounts), so the rules, the
messages and the audit trail are the same. A service's field complaints become a 422
problem with ``errors``; someone else's address id is a 404, like one that never existed.
"""

from __future__ import annotations

from flask import Response
from werkzeug.exceptions import NotFound

from app.accounts.addresses import (
    ADDRESS_FIELDS,
    add_address,
    delete_address,
    get_address_for_user_or_404,
    list_addresses,
    update_address,
)
from app.accounts.models import Address, User
from app.accounts.profile import (
    MAX_ADDRESSES,
    FieldErrors,
    country_name,
    current_preferences,
    delete_account,
    save_preferences,
    update_profile,
)
from app.accounts.services import AccountError, InvalidCredentials, WeakPassword, change_password
from app.api import bp
from app.api.auth import api_account_key, current_api_user
from app.api.openapi import operation, validation_problem
from app.api.schemas import Problem, TokenOut
from app.api.schemas_profile import (
    AccountDeleteIn,
    AddressIn,
    AddressListOut,
    AddressOut,
    AddressPatchIn,
    PasswordChangeIn,
    PreferencesIn,
    PreferencesOut,
    ProfileOut,
    ProfileUpdateIn,
)
from app.api.tokens import issue_tokens
from app.core.errors import problem
from app.extensions import limiter
from app.notifications.services import LOCKED
from app.ratelimit import ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE

TAGS = ["account"]


def profile_out(user: User) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        name=user.name,
        email=user.email,
        email_verified=user.is_verified,
        two_factor_enabled=user.totp_enabled,
        created_at=user.created_at,
        phone=user.phone or "",
    )


def _field_problem(exc: FieldErrors, detail: str | None = None) -> Response:
    return validation_problem({name: [message] for name, message in exc.errors.items()}, detail)


@operation(
    bp,
    "PATCH",
    "/me",
    summary="Change your name or phone number",
    description=(
        "Send only what changes; `null` leaves a field as it is and an empty `phone` removes "
        "the number. Phone numbers are checked and stored in E.164 form, as on the website "
        "(numbers without a country code are read as the shop's country)."
    ),
    body=ProfileUpdateIn,
    responses={200: ProfileOut, 422: Problem},
    auth=True,
    tags=TAGS,
)
def profile_update(body: ProfileUpdateIn) -> ProfileOut | Response:
    user = current_api_user()
    try:
        update_profile(
            user,
            name=user.name if body.name is None else body.name,
            phone=user.phone if body.phone is None else body.phone,
        )
    except FieldErrors as exc:
        return _field_problem(exc)
    return profile_out(user)


# -- address book -------------------------------------------------------------------------------


def _address_out(address: Address) -> AddressOut:
    return AddressOut(
        id=address.id,
        full_name=address.full_name,
        line1=address.line1,
        line2=address.line2 or "",
        city=address.city,
        region=address.region or "",
        postal_code=address.postal_code or "",
        country=address.country,
        country_name=country_name(address.country),
        phone=address.phone or "",
        is_default_shipping=address.is_default_shipping,
        is_default_billing=address.is_default_billing,
        created_at=address.created_at,
        updated_at=address.updated_at,
    )


def _own_address(address_id: int) -> Address | None:
    """The signed-in user's address, or None for anyone else's (path ids are in range:
    app.core.numbers.IdConverter)."""
    try:
        return get_address_for_user_or_404(current_api_user().id, address_id)
    except NotFound:
        return None


def _no_address() -> Response:
    return problem(404, "You have no address with that id.", code="address-not-found")


def _address_error(exc: AccountError) -> Response:
    if isinstance(exc, FieldErrors):
        return _field_problem(exc, "The address is not complete or not valid; see errors.")
    return problem(409, str(exc), code="address-limit")


@operation(
    bp,
    "GET",
    "/me/addresses",
    summary="Your address book",
    description="Oldest first. One address is the default for shipping and one for billing.",
    responses={200: AddressListOut},
    auth=True,
    tags=TAGS,
)
def addresses_list() -> AddressListOut:
    rows = list_addresses(current_api_user().id)
    return AddressListOut(items=[_address_out(a) for a in rows], max_addresses=MAX_ADDRESSES)


@operation(
    bp,
    "POST",
    "/me/addresses",
    summary="Add an address",
    description=(
        "The first address becomes the default for shipping and billing. An account keeps at "
        f"most {MAX_ADDRESSES} addresses (409 address-limit)."
    ),
    body=AddressIn,
    responses={201: AddressOut, 409: Problem, 422: Problem},
    auth=True,
    tags=TAGS,
)
def addresses_create(body: AddressIn) -> tuple[AddressOut, int] | Response:
    data = body.model_dump(include=set(ADDRESS_FIELDS))
    try:
        address = add_address(
            current_api_user(),
            data,
            default_shipping=body.default_shipping,
            default_billing=body.default_billing,
        )
    except AccountError as exc:
        return _address_error(exc)
    return _address_out(address), 201


@operation(
    bp,
    "GET",
    "/me/addresses/<int:address_id>",
    summary="One of your addresses",
    responses={200: AddressOut, 404: Problem},
    auth=True,
    tags=TAGS,
)
def addresses_detail(address_id: int) -> AddressOut | Response:
    address = _own_address(address_id)
    return _no_address() if address is None else _address_out(address)


@operation(
    bp,
    "PATCH",
    "/me/addresses/<int:address_id>",
    summary="Change one of your addresses",
    body=AddressPatchIn,
    responses={200: AddressOut, 404: Problem, 422: Problem},
    auth=True,
    tags=TAGS,
)
def addresses_update(address_id: int, body: AddressPatchIn) -> AddressOut | Response:
    address = _own_address(address_id)
    if address is None:
        return _no_address()
    data = {name: getattr(address, name) or "" for name in ADDRESS_FIELDS}
    data.update(body.model_dump(include=set(ADDRESS_FIELDS), exclude_none=True))
    try:
        update_address(
            current_api_user(),
            address,
            data,
            default_shipping=bool(body.default_shipping),
            default_billing=bool(body.default_billing),
        )
    except AccountError as exc:
        return _address_error(exc)
    return _address_out(address)


@operation(
    bp,
    "DELETE",
    "/me/addresses/<int:address_id>",
    summary="Delete one of your addresses",
    description="A default passes to the oldest remaining address.",
    responses={204: None, 404: Problem},
    auth=True,
    tags=TAGS,
)
def addresses_delete(address_id: int) -> Response:
    address = _own_address(address_id)
    if address is None:
        return _no_address()
    delete_address(current_api_user(), address)
    return Response(status=204)


# -- notification preferences -------------------------------------------------------------------


def _preferences_out(user: User) -> PreferencesOut:
    choices = {
        f"{channel}_{category}": on for (channel, category), on in current_preferences(user).items()
    }
    return PreferencesOut(
        **choices, locked=sorted(f"{channel}_{category}" for channel, category in LOCKED)
    )


@operation(
    bp,
    "GET",
    "/me/preferences",
    summary="Your notification preferences",
    responses={200: PreferencesOut},
    auth=True,
    tags=TAGS,
)
def preferences_get() -> PreferencesOut:
    return _preferences_out(current_api_user())


@operation(
    bp,
    "PUT",
    "/me/preferences",
    summary="Set your notification preferences",
    description=(
        "Replaces every choice. SMS and WhatsApp messages need a phone number on the profile "
        "(422 otherwise). Opting in to marketing email here lifts an earlier one-click "
        "unsubscribe, as on the website."
    ),
    body=PreferencesIn,
    responses={200: PreferencesOut, 422: Problem},
    auth=True,
    tags=TAGS,
)
def preferences_put(body: PreferencesIn) -> PreferencesOut | Response:
    user = current_api_user()
    choices = {}
    for key, enabled in body.model_dump().items():
        channel, _, category = key.partition("_")
        choices[(channel, category)] = enabled
    try:
        save_preferences(user, choices)
    except FieldErrors as exc:
        return _field_problem(exc)
    return _preferences_out(user)


# -- password and account -----------------------------------------------------------------------


@operation(
    bp,
    "POST",
    "/me/password",
    summary="Change your password",
    description=(
        "Needs the current password. Every sign-in ends: website sessions, other devices' "
        "tokens and the tokens of this request. The response is a new token pair for this "
        "device; use it from now on (the old refresh token no longer works). At most 10 "
        "attempts an hour."
    ),
    body=PasswordChangeIn,
    responses={200: TokenOut, 422: Problem},
    auth=True,
    tags=TAGS,
)
@limiter.shared_limit(
    ACCOUNT_SECRETS_LIMIT,
    ACCOUNT_SECRETS_SCOPE,
    key_func=api_account_key,
    override_defaults=False,
)
def password_change(body: PasswordChangeIn) -> TokenOut | Response:
    user = current_api_user()
    try:
        change_password(user, body.current_password, body.new_password)
    except WeakPassword as exc:
        return validation_problem(
            {"new_password": exc.problems}, "The new password does not meet the password policy."
        )
    except InvalidCredentials as exc:
        return validation_problem({"current_password": [str(exc)]}, str(exc))
    pair = issue_tokens(user)
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@operation(
    bp,
    "DELETE",
    "/me",
    summary="Delete your account",
    description=(
        "Needs your password. The account is anonymised as on the website: name, email, "
        "phone, addresses and preferences are removed, orders are kept for the records. "
        "Every token and website session ends. Staff accounts cannot be deleted here (403). "
        "At most 10 attempts an hour."
    ),
    body=AccountDeleteIn,
    responses={204: None, 403: Problem, 422: Problem},
    auth=True,
    tags=TAGS,
)
@limiter.shared_limit(
    ACCOUNT_SECRETS_LIMIT,
    ACCOUNT_SECRETS_SCOPE,
    key_func=api_account_key,
    override_defaults=False,
)
def account_delete(body: AccountDeleteIn) -> Response:
    try:
        delete_account(current_api_user(), password=body.password)
    except InvalidCredentials as exc:
        return validation_problem({"password": [str(exc)]}, str(exc))
    except AccountError as exc:
        return problem(403, str(exc), code="staff-account")
    return Response(status=204)

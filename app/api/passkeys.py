"""Passkeys in the API: a customer's app adds them and signs in with one, with the platform's
own WebAuthn (Android Credential Manager, iOS AuthenticationServices), which needs the shop's
domain associated with the app (assetlinks.json / apple-app-site-association) because the
relying party is the shop's domain. The rules are the website's: app/accounts/passkeys.py."""

from __future__ import annotations

import json

from flask import Response

from app.accounts.models import Passkey
from app.accounts.passkeys import (
    MAX_PASSKEYS,
    Ceremony,
    PasskeyError,
    begin_registration,
    begin_sign_in,
    finish_registration,
    finish_sign_in,
    passkeys_of,
    remove_passkey,
)
from app.api import bp
from app.api.auth import api_account_key, current_api_user, merge_guest_cart_of, token_out
from app.api.openapi import operation
from app.api.schemas import LoginOut, Problem
from app.api.schemas_wallet import (
    CeremonyOut,
    PasskeyIn,
    PasskeyListOut,
    PasskeyOptionsIn,
    PasskeyOut,
    PasskeySignInIn,
)
from app.api.tokens import issue_tokens
from app.core.errors import problem
from app.extensions import limiter
from app.ratelimit import ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, limiter_key

AUTH_LIMIT = "10 per minute"


def _out(key: Passkey) -> PasskeyOut:
    return PasskeyOut(
        id=key.id,
        name=key.name,
        synced=key.backed_up,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def _ceremony(ceremony: Ceremony) -> CeremonyOut:
    return CeremonyOut(ceremony=ceremony.token, options=json.loads(ceremony.options))


@operation(
    bp,
    "GET",
    "/me/passkeys",
    summary="Your passkeys",
    responses={200: PasskeyListOut},
    auth=True,
    tags=["account"],
)
def passkeys_list() -> PasskeyListOut:
    keys = passkeys_of(current_api_user().id)
    return PasskeyListOut(items=[_out(k) for k in keys], max_passkeys=MAX_PASSKEYS)


@operation(
    bp,
    "POST",
    "/me/passkeys/options",
    summary="Begin adding a passkey",
    description="The account's password is asked again (403 wrong-password): a passkey "
    "signs in without it. Pass `options` to the platform's create call, then POST the "
    f"result with `ceremony` to /me/passkeys. 409 too-many-passkeys at {MAX_PASSKEYS}. The "
    "owner is emailed when a passkey is added.",
    body=PasskeyOptionsIn,
    responses={200: CeremonyOut, 403: Problem, 409: Problem},
    auth=True,
    tags=["account"],
)
@limiter.limit("10 per minute", key_func=limiter_key, override_defaults=False)
@limiter.shared_limit(ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, key_func=api_account_key)
def passkeys_options(body: PasskeyOptionsIn) -> CeremonyOut | Response:
    try:
        return _ceremony(begin_registration(current_api_user(), body.password))
    except PasskeyError as exc:
        return problem(403 if exc.code == "wrong-password" else 409, str(exc), code=exc.code)


@operation(
    bp,
    "POST",
    "/me/passkeys",
    summary="Add a passkey",
    description="400 ceremony-invalid (start again), passkey-invalid (the answer did not "
    "check out: wrong challenge, origin or signature) or passkey-exists.",
    body=PasskeyIn,
    responses={201: PasskeyOut, 400: Problem},
    auth=True,
    tags=["account"],
)
@limiter.limit("10 per minute", key_func=limiter_key, override_defaults=False)
def passkeys_add(body: PasskeyIn) -> tuple[PasskeyOut, int] | Response:
    try:
        key = finish_registration(current_api_user(), body.ceremony, body.credential, body.name)
    except PasskeyError as exc:
        return problem(400, str(exc), code=exc.code)
    return _out(key), 201


@operation(
    bp,
    "DELETE",
    "/me/passkeys/<int:passkey_id>",
    summary="Remove one of your passkeys",
    responses={204: None, 404: Problem},
    auth=True,
    tags=["account"],
)
def passkeys_remove(passkey_id: int) -> Response:
    if remove_passkey(current_api_user(), passkey_id) is None:
        return problem(404, "You have no passkey with that id.", code="not-found")
    return Response(status=204)


@operation(
    bp,
    "POST",
    "/auth/passkey/options",
    summary="Begin signing in with a passkey",
    description="Pass `options` to the platform's get call (the platform offers the "
    "accounts it has passkeys for), then POST the result with `ceremony` to /auth/passkey.",
    responses={200: CeremonyOut},
    tags=["auth"],
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
def passkey_sign_in_options() -> CeremonyOut:
    return _ceremony(begin_sign_in())


@operation(
    bp,
    "POST",
    "/auth/passkey",
    summary="Sign in with a passkey, for an access and a refresh token",
    description="Customers only (staff sign in with a password and a second factor). 401 "
    "ceremony-invalid or passkey-refused. The guest cart named by X-Cart-Token merges as "
    "with /auth/login.",
    body=PasskeySignInIn,
    responses={200: LoginOut, 401: Problem},
    tags=["auth"],
    cart_token=True,
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
def passkey_sign_in(body: PasskeySignInIn) -> LoginOut | Response:
    try:
        user = finish_sign_in(body.ceremony, body.credential)
    except PasskeyError as exc:
        return problem(401, str(exc), code=exc.code, title="Not signed in")
    pair = issue_tokens(user)
    return LoginOut(**token_out(pair).model_dump(), cart_messages=merge_guest_cart_of(user))

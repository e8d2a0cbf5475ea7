"""Token authentication: register, login (with TOTP), refresh (rotation), logout, me.

The API never reads or sets the session cookie; a request is authenticated only by its
``Authorization: Bearer <access token>`` header.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from flask import Response, g, request

from app.accounts.models import User
from app.accounts.services import (
    AccountError,
    AccountLocked,
    WeakPassword,
    authenticate,
    locked_until,
    register_user,
)
from app.accounts.sign_in_links import check_sign_in_link, send_sign_in_link, use_sign_in_link
from app.accounts.signed_links import TokenInvalid
from app.accounts.totp import SecondFactorPaused, WrongSecondFactor, verify_second_factor
from app.api import bp
from app.api.models import ApiToken
from app.api.openapi import operation, validation_problem
from app.api.schemas import (
    LoginIn,
    LoginOut,
    Problem,
    RefreshIn,
    RegisterIn,
    SignInLinkIn,
    SignInLinkUseIn,
    TokenOut,
    UserOut,
)
from app.api.schemas_profile import ProfileOut
from app.api.tokens import (
    TokenError,
    TokenPair,
    authenticate_access_token,
    hash_token,
    issue_tokens,
    read_access_token,
    revoke_refresh_family,
    rotate_refresh_token,
)
from app.core.errors import problem
from app.db import utcnow
from app.extensions import db, limiter
from app.ratelimit import SIGN_IN_LINK_LIMIT, SIGN_IN_LINK_SCOPE, limiter_key, sign_in_link_key

AUTH_LIMIT = "10 per minute"  # login and register: per IP address
REFRESH_LIMIT = "10 per minute"  # refresh and logout: per sign-in (see refresh_limit_key)
_TOKEN_ENDPOINTS = frozenset({"api.refresh", "api.logout"})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def refresh_limit_key() -> str:
    """Refresh and logout are limited per sign-in: the family of the refresh token in the
    body (the token's hash when it is unknown), never per IP address, because mobile
    carriers put many phones behind one address and each phone refreshes on its own.
    Guessing tokens gains nothing (256 random bits); the API's per-IP ceiling
    (``API_RATELIMIT_PER_IP``) still caps any one address. A body without a token counts
    per address."""
    if "api_refresh_key" in g:
        return g.api_refresh_key
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    raw = data.get("refresh_token") if isinstance(data, dict) else None
    if isinstance(raw, str) and raw:
        digest = hash_token(raw)
        family = db.session.execute(
            sa.select(ApiToken.family_id).where(ApiToken.token_hash == digest)
        ).scalar_one_or_none()
        key = f"api-refresh:{family or digest}"
    else:
        key = f"api-refresh-ip:{limiter_key()}"
    g.api_refresh_key = key
    return key


def api_limit_key() -> str:
    """Per user for valid access tokens (signature only, no query), per sign-in for token
    refresh and logout (:func:`refresh_limit_key`), per IP otherwise."""
    if request.endpoint in _TOKEN_ENDPOINTS and not request.headers.get("Authorization"):
        return refresh_limit_key()
    token = bearer_token()
    if token:
        try:
            return f"api-user:{read_access_token(token).user_id}"
        except TokenError:
            pass
    return f"api-ip:{limiter_key()}"


def api_account_key() -> str:
    """The account of a valid access token, keyed as the website keys it
    (:func:`app.ratelimit.account_key`), so both doors share one budget."""
    token = bearer_token()
    if token:
        try:
            return f"account:{read_access_token(token).user_id}"
        except TokenError:
            pass
    return f"api-ip:{limiter_key()}"


def _unauthorized(code: str, detail: str) -> Response:
    """A refused access token (RFC 6750 §3.1: error="invalid_token")."""
    response = problem(401, detail, code=code)
    response.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", code="{code}"'
    return response


def _bad_credentials(code: str, detail: str) -> Response:
    """Wrong sign-in details or refresh token: no access token was sent, so none is called
    invalid; the challenge only names the scheme that the other operations take."""
    response = problem(401, detail, code=code)
    response.headers["WWW-Authenticate"] = 'Bearer realm="ShopSphere API"'
    return response


def authenticate_request() -> Response | None:
    """Set ``g.api_user``/``g.api_family`` from the bearer token, or a 401 problem."""
    token = bearer_token()
    if token is None:
        response = problem(
            401, "Send Authorization: Bearer <access token>.", code="authentication-required"
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        user, claims = authenticate_access_token(token)
    except TokenError as exc:
        return _unauthorized(exc.code, str(exc))
    g.api_user, g.api_family = user, claims.family_id
    return None


def current_api_user() -> User:
    return g.api_user


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        email=user.email,
        email_verified=user.is_verified,
        two_factor_enabled=user.totp_enabled,
        created_at=user.created_at,
    )


def token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@operation(
    bp,
    "POST",
    "/auth/register",
    summary="Create a customer account",
    description="Sends an email to confirm the address. Sign in with /auth/login afterwards.",
    body=RegisterIn,
    responses={201: UserOut, 409: Problem, 422: Problem},
    tags=["auth"],
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
def register(body: RegisterIn) -> UserOut | Response:
    try:
        user = register_user(body.name, str(body.email), body.password)
    except WeakPassword as exc:
        return validation_problem(
            {"password": exc.problems}, "The password does not meet the password policy."
        )
    except AccountError as exc:
        return problem(409, str(exc), code="account-exists")
    return _user_out(user)


@operation(
    bp,
    "POST",
    "/auth/login",
    summary="Sign in for an access and a refresh token",
    description=(
        "Unknown emails and wrong passwords give the same 401 (invalid-credentials). After "
        "too many failures the address is locked for a while (429, account-locked, with "
        "Retry-After). Accounts with two-factor authentication must send `totp` (401 "
        "totp-required without it, invalid-totp when wrong); after 5 wrong codes two-factor "
        "sign-in to the account pauses (429 too-many-code-failures, with Retry-After). A "
        "guest cart named by the X-Cart-Token header merges into the account's cart, as on "
        "the website (`cart_messages` says what happened); "
        "orders placed with that cart become the account's, and items an unpaid one still "
        "holds are not added to the cart again."
    ),
    body=LoginIn,
    responses={200: LoginOut, 401: Problem, 429: Problem},
    tags=["auth"],
    cart_token=True,
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
def login(body: LoginIn) -> LoginOut | Response:
    try:
        user = authenticate(body.email, body.password)
    except AccountLocked as exc:
        response = problem(429, str(exc), code="account-locked", title="Account locked")
        until = locked_until(body.email)
        if until is not None:
            seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
            response.headers["Retry-After"] = str(seconds)
        return response
    except AccountError as exc:
        return _bad_credentials("invalid-credentials", str(exc))
    refused = _second_factor_refused(user, body.totp)
    if refused is not None:
        return refused
    pair = issue_tokens(user)
    return LoginOut(**token_out(pair).model_dump(), cart_messages=merge_guest_cart_of(user))


@operation(
    bp,
    "POST",
    "/auth/sign-in-link",
    summary="Email a customer a sign-in link (no password)",
    description=(
        "Always 202, whether or not a customer account has that address (nothing to learn "
        "about who has an account). The email links to the website; an app that opens that "
        "link itself sends its token to /auth/sign-in-link/use. A link works once, for 15 "
        "minutes; asking again retires the older one. Staff accounts get no link. Limited "
        "per address (3 per 15 minutes, shared with the website) and per client."
    ),
    body=SignInLinkIn,
    responses={202: None, 422: Problem, 429: Problem},
    tags=["auth"],
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
@limiter.shared_limit(SIGN_IN_LINK_LIMIT, SIGN_IN_LINK_SCOPE, key_func=sign_in_link_key)
def sign_in_link(body: SignInLinkIn) -> Response:
    send_sign_in_link(body.email)
    return Response(status=202)


@operation(
    bp,
    "POST",
    "/auth/sign-in-link/use",
    summary="Sign in with an emailed link's token, for an access and a refresh token",
    description=(
        "401 link-invalid, link-used or link-expired when the link cannot sign in. An "
        "account with two-factor authentication must send `totp` (401 totp-required without "
        "it, invalid-totp when wrong): the link is used up only once the code is right. The "
        "guest cart named by X-Cart-Token merges as with /auth/login."
    ),
    body=SignInLinkUseIn,
    responses={200: LoginOut, 401: Problem, 429: Problem},
    tags=["auth"],
    cart_token=True,
)
@limiter.limit(AUTH_LIMIT, key_func=limiter_key, override_defaults=False)
def use_sign_in_link_api(body: SignInLinkUseIn) -> LoginOut | Response:
    try:
        user = check_sign_in_link(body.token)
    except TokenInvalid as exc:
        return _bad_credentials(f"link-{exc.reason}", _LINK_PROBLEMS[exc.reason])
    refused = _second_factor_refused(user, body.totp)
    if refused is not None:
        return refused
    try:
        user = use_sign_in_link(body.token).user
    except TokenInvalid as exc:
        return _bad_credentials(f"link-{exc.reason}", _LINK_PROBLEMS[exc.reason])
    pair = issue_tokens(user)
    return LoginOut(**token_out(pair).model_dump(), cart_messages=merge_guest_cart_of(user))


_LINK_PROBLEMS = {
    "invalid": "This sign-in link does not work. Ask for a new one.",
    "used": "This sign-in link was used already. Ask for a new one.",
    "expired": "This sign-in link has expired. Ask for a new one.",
}


def _second_factor_refused(user: User, totp: str | None) -> Response | None:
    """The code an account with two-factor authentication must send (None when it is right
    or not needed): the same answers for a password and for an emailed link."""
    if not user.totp_enabled:
        return None
    code = (totp or "").strip()
    if not code:
        return _bad_credentials(
            "totp-required", "Two-factor authentication is on: send the current code."
        )
    try:
        verify_second_factor(user, code, channel="api")
    except SecondFactorPaused as exc:
        response = problem(429, str(exc), code=exc.code, title="Too many wrong codes")
        response.headers["Retry-After"] = str(exc.seconds)
        return response
    except WrongSecondFactor as exc:
        return _bad_credentials(exc.code, str(exc))
    return None


def merge_guest_cart_of(user: User) -> list[str]:
    from app.api.cart import guest_cart_from_header
    from app.cart.merge import merge_guest_cart

    guest = guest_cart_from_header()
    return merge_guest_cart(guest, user.id) if guest is not None else []


@operation(
    bp,
    "POST",
    "/auth/refresh",
    summary="Exchange a refresh token for a new token pair",
    description=(
        "Each refresh token works once. Presenting a used one again revokes every token of "
        "that sign-in (401 token-reused), including the pair the first use returned. "
        "Clients must therefore serialise refreshes: when several calls get token-expired "
        "at once, make one refresh, let the others wait for its result, and retry them all "
        "with the new access token. Two refreshes racing with the same token sign the "
        "user out. Limited per sign-in (10 per minute), not per address."
    ),
    body=RefreshIn,
    responses={200: TokenOut, 401: Problem},
    tags=["auth"],
)
@limiter.limit(REFRESH_LIMIT, key_func=refresh_limit_key, override_defaults=False)
def refresh(body: RefreshIn) -> TokenOut | Response:
    try:
        pair = rotate_refresh_token(body.refresh_token)
    except TokenError as exc:
        return _bad_credentials(exc.code, str(exc))
    return token_out(pair)


@operation(
    bp,
    "POST",
    "/auth/logout",
    summary="Sign out: revoke every token of this sign-in",
    description=(
        "Send the refresh token; its whole family (refresh and access tokens) stops working "
        "at once. Works with an expired access token, needs none, and answers 204 for "
        "unknown tokens too (as RFC 7009 revocation does)."
    ),
    body=RefreshIn,
    responses={204: None},
    tags=["auth"],
)
@limiter.limit(REFRESH_LIMIT, key_func=refresh_limit_key, override_defaults=False)
def logout(body: RefreshIn) -> Response:
    revoke_refresh_family(body.refresh_token)
    return Response(status=204)


@operation(
    bp,
    "GET",
    "/me",
    summary="The signed-in account",
    responses={200: ProfileOut},
    auth=True,
    tags=["account"],
)
def me() -> ProfileOut:
    from app.api.profile import profile_out  # profile builds on this module

    return profile_out(current_api_user())

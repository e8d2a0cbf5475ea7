"""Confirming an account's email address from the app: the link's token, and a new link.

The confirmation email links to the website (``/account/verify/<token>``); an app that
opens that link itself (a universal/app link) sends the token's last path segment here.
"""

from __future__ import annotations

from flask import Response
from pydantic import BaseModel, Field

from app.accounts.services import AccountError, resend_verification, verify_email
from app.accounts.signed_links import TokenInvalid
from app.api import bp
from app.api.auth import api_account_key, current_api_user
from app.api.openapi import operation, validation_problem
from app.api.schemas import Problem
from app.core.errors import problem
from app.extensions import limiter

RESEND_LIMIT = "3 per 10 minutes"  # as on the website
TOKEN_MESSAGES = {
    "expired": "This confirmation link has expired: ask for a new one.",
    "invalid": "This confirmation link is not valid.",
}


class VerifyEmailIn(BaseModel):
    token: str = Field(
        min_length=1,
        max_length=512,
        description="The last path segment of the confirmation link in the email.",
    )


class VerifyEmailOut(BaseModel):
    email: str = Field(description="The account's email address now.")
    email_verified: bool
    changed_email: bool = Field(description="True when the link confirmed a new address.")
    already_verified: bool = Field(description="True when nothing changed: done before.")


class VerificationSentOut(BaseModel):
    email: str = Field(description="Where the new link went.")


@operation(
    bp,
    "POST",
    "/auth/verify-email",
    summary="Confirm an email address with the link's token",
    description=(
        "Works signed in or not: the token names the account. An expired or unknown token is "
        "422 with `errors.token`; a new address that another account took meanwhile is 409 "
        "email-taken. Using a link twice is harmless (`already_verified`)."
    ),
    body=VerifyEmailIn,
    responses={200: VerifyEmailOut, 409: Problem, 422: Problem},
    tags=["auth"],
)
@limiter.limit("10 per minute", override_defaults=False)
def verify_email_op(body: VerifyEmailIn) -> VerifyEmailOut | Response:
    try:
        outcome = verify_email(body.token)
    except TokenInvalid as exc:
        message = TOKEN_MESSAGES.get(exc.reason, TOKEN_MESSAGES["invalid"])
        return validation_problem({"token": [message]}, message)
    except AccountError as exc:
        return problem(409, str(exc), code="email-taken")
    user = outcome.user
    return VerifyEmailOut(
        email=user.email,
        email_verified=user.is_verified,
        changed_email=outcome.changed_email,
        already_verified=outcome.already,
    )


@operation(
    bp,
    "POST",
    "/me/verification",
    summary="Send a new confirmation link",
    description=(
        "For an account whose address is not confirmed yet (409 already-verified otherwise). "
        "At most 3 every 10 minutes."
    ),
    responses={202: VerificationSentOut, 409: Problem},
    auth=True,
    tags=["account"],
)
@limiter.limit(RESEND_LIMIT, key_func=api_account_key, override_defaults=False)
def resend_verification_op() -> tuple[VerificationSentOut, int] | Response:
    user = current_api_user()
    if not resend_verification(user):
        return problem(409, "Your email address is already confirmed.", code="already-verified")
    return VerificationSentOut(email=user.email), 202

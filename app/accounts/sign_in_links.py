"""Sign-in links by email ("magic links") for customers: a password-free first factor.

* Asking for one answers the same whether or not the address has an account (the email is
  sent by a task either way the request looks alike), and is rate-limited per address and
  per client (app/ratelimit.py), on the website and in the API alike.
* A link works once, for :data:`LINK_MINUTES`, and only the newest one of an account works
  (asking again retires the older ones). Using it is one conditional UPDATE, so two clicks
  at once sign in once. The token is random (256 bits) and stored only as its SHA-256.
* Opening the link shows a button; the POST behind it signs in. Mail scanners that fetch
  every link in a message therefore cannot use it up.
* Staff accounts cannot use links: their sign-in is password and second factor. A customer
  with two-factor authentication still gives the code after the link.
* Every step is audited; the link proves the inbox, so an unconfirmed address is confirmed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.audit import audit
from app.accounts.models import SignInLink, User
from app.accounts.passwords import hash_password
from app.accounts.services import get_user_by_email, normalise_email
from app.accounts.sessions import revoke_all
from app.accounts.signed_links import TokenInvalid
from app.db import keep_on_refusal, utcnow
from app.extensions import db
from app.notifications.rendering import external_url
from app.notifications.services import notify

LINK_MINUTES = 15
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_sign_in_link(email: str) -> None:
    """Email a sign-in link when ``email`` is a customer's; the caller answers the same
    either way."""
    user = get_user_by_email(email)
    if user is None or not user.is_active or user.is_staff:
        audit(
            "account.sign_in_link_requested",
            target=normalise_email(email),
            detail="no customer account",
        )
        return
    now = utcnow()
    retire_sign_in_links(user.id)  # only the newest link works
    token = secrets.token_urlsafe(32)
    db.session.add(
        SignInLink(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=LINK_MINUTES),
        )
    )
    notify(
        "sign-in-link",
        to=user.email,
        user_id=user.id,
        variables={
            "name": user.name,
            "expires_minutes": LINK_MINUTES,
            "sign_in_url": external_url("accounts.sign_in_link", token=token),
        },
    )
    audit("account.sign_in_link_sent", target_user_id=user.id)


def retire_sign_in_links(user_id: int) -> None:
    """Links of the account not used yet stop working: a newer one was sent, or the account
    was secured (password changed or reset, signed out everywhere, email changed)."""
    db.session.execute(
        sa.update(SignInLink)
        .where(SignInLink.user_id == user_id, SignInLink.used_at.is_(None))
        .where(SignInLink.expires_at > utcnow())
        .values(expires_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def check_sign_in_link(token: str) -> User:
    """The account of a link that can still be used (for the page that offers the button,
    and the API's second-factor check before the link is used up); :class:`TokenInvalid`
    with ``reason`` invalid, used or expired otherwise. Uses nothing."""
    row = _refusal(token, audit_it=False)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or user.is_staff:
        raise TokenInvalid("invalid")
    return user


@dataclass(frozen=True)
class LinkUsed:
    user: User
    confirmed_now: bool  # the link confirmed the address: earlier password and sessions ended


def use_sign_in_link(token: str) -> LinkUsed:
    """Use the link: its account, once; :class:`TokenInvalid` otherwise (audited, and the
    audit row stands although the request answers with an error)."""
    if not TOKEN.fullmatch(token or ""):
        raise _refused("invalid", None)
    now = utcnow()
    user_id = db.session.execute(
        sa.update(SignInLink)
        .where(
            SignInLink.token_hash == _hash(token),
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(SignInLink.user_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if user_id is None:
        _refusal(token, audit_it=True)
        raise _refused("used", None)  # used a moment ago by a concurrent request
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.is_staff:
        raise _refused("invalid", user_id)
    detail = ""
    if user.email_verified_at is None:
        # The link proves this inbox for the first time. Whoever signed up with the address
        # may not have been its owner (someone registering another's address and waiting):
        # any password set before, and every session and token, stop working now.
        user.email_verified_at = now
        user.password_hash = hash_password(secrets.token_urlsafe(32))
        revoke_all(user.id)
        detail = "address confirmed by the link: earlier password and sessions ended"
    audit("account.sign_in_link_used", actor_id=user.id, target_user_id=user.id, detail=detail)
    return LinkUsed(user, confirmed_now=bool(detail))


def _refusal(token: str, *, audit_it: bool) -> SignInLink:
    """The link's row when it can be used; raises (why not) otherwise."""
    if not TOKEN.fullmatch(token or ""):
        raise _refused("invalid", None, audit_it=audit_it)
    row = db.session.execute(
        sa.select(SignInLink).where(SignInLink.token_hash == _hash(token))
    ).scalar_one_or_none()
    if row is None:
        raise _refused("invalid", None, audit_it=audit_it)
    if row.used_at is not None:
        raise _refused("used", row.user_id, audit_it=audit_it)
    if row.expires_at <= utcnow():
        raise _refused("expired", row.user_id, audit_it=audit_it)
    return row


def _refused(reason: str, user_id: int | None, *, audit_it: bool = True) -> TokenInvalid:
    if audit_it:
        audit("account.sign_in_link_refused", target_user_id=user_id, detail=reason)
        keep_on_refusal("a refused sign-in link is audited")
    return TokenInvalid(reason)

"""Passkeys (WebAuthn) with Duo Labs' ``webauthn`` library: no cryptography of our own.

* Customers add passkeys on their security page and sign in with one instead of a password
  (a discoverable credential, the browser offers the account; user verification required,
  so the passkey is itself two factors: the device and its PIN or biometric).
* Staff cannot sign in with a passkey alone: after their password, a passkey of theirs
  stands in for the authenticator code (``second-factor``), beside TOTP, which they keep.
* Every ceremony's challenge is random, kept server-side for :data:`CEREMONY_MINUTES`, and
  used at most once (a conditional UPDATE), whichever door (website, API) began it.
* The relying party is the shop's own address (``PASSKEY_RP_ID``, default: the host of
  ``SHOP_BASE_URL``) and only its origins are accepted (``PASSKEY_ORIGINS``). An IP address
  cannot be a relying party, so locally the shop is opened at http://localhost.
* Added, removed, used and refused passkeys are audited. Nothing secret is stored: the
  public key, the credential id, the authenticator's counter.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.accounts.audit import audit
from app.accounts.models import Passkey, PasskeyChallenge, User
from app.accounts.passwords import verify_password
from app.db import keep_on_refusal, utcnow
from app.extensions import db
from app.notifications.rendering import external_url
from app.notifications.services import notify

CEREMONY_MINUTES = 5
MAX_PASSKEYS = 10
PURPOSES = ("register", "sign-in", "second-factor")
MAX_CREDENTIAL_BYTES = 64 * 1024  # a registration response is a few kilobytes


class PasskeyError(ValueError):
    """A ceremony that cannot complete; ``str()`` is safe to show, ``code`` for the API."""

    def __init__(self, message: str, code: str = "passkey-invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Ceremony:
    token: str  # kept by the browser session or the app, sent back with the response
    options: str  # JSON for navigator.credentials.create/get (PublicKeyCredential*Options)


def _base() -> tuple[str, str]:
    """The shop's host and origin; an IP address (the development default, 127.0.0.1) is
    no relying party, so there the shop's passkeys live at localhost on the same port."""
    parts = urlsplit(current_app.config["SHOP_BASE_URL"])
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host, f"{parts.scheme}://{parts.netloc}"
    port = f":{parts.port}" if parts.port else ""
    return "localhost", f"{parts.scheme}://localhost{port}"


def rp_id() -> str:
    return str(current_app.config.get("PASSKEY_RP_ID") or _base()[0])


def origins() -> list[str]:
    return list(current_app.config.get("PASSKEY_ORIGINS") or [_base()[1]])


def _user_handle(user: User) -> bytes:
    """An opaque, stable id for the account at the authenticator (no email, no row id)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"passkey-user:{user.id}".encode(), hashlib.sha256).digest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _begin(purpose: str, user_id: int | None, challenge: bytes) -> str:
    now = utcnow()
    db.session.execute(  # ceremonies nobody finished: gone after a day
        sa.delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now - timedelta(days=1))
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasskeyChallenge(
            token_hash=_hash(token),
            purpose=purpose,
            user_id=user_id,
            challenge=challenge,
            expires_at=now + timedelta(minutes=CEREMONY_MINUTES),
        )
    )
    return token


def _use(token: str | None, purpose: str, user_id: int | None) -> bytes:
    """The ceremony's challenge, once; PasskeyError when unknown, used, expired or not
    this purpose's or this account's."""
    if not token or len(token) > 128:
        raise PasskeyError("Start again: that passkey request has expired.", "ceremony-invalid")
    conditions = [
        PasskeyChallenge.token_hash == _hash(token),
        PasskeyChallenge.purpose == purpose,
        PasskeyChallenge.used_at.is_(None),
        PasskeyChallenge.expires_at > utcnow(),
    ]
    if user_id is not None:
        conditions.append(PasskeyChallenge.user_id == user_id)
    challenge = db.session.execute(
        sa.update(PasskeyChallenge)
        .where(*conditions)
        .values(used_at=utcnow())
        .returning(PasskeyChallenge.challenge)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if challenge is None:
        raise PasskeyError("Start again: that passkey request has expired.", "ceremony-invalid")
    return bytes(challenge)


def _credential(raw: Any) -> dict[str, Any]:
    """The browser's PublicKeyCredential as JSON (a dict or its text), size-checked."""
    if isinstance(raw, str | bytes):
        if len(raw) > MAX_CREDENTIAL_BYTES:
            raise PasskeyError("That passkey response is too large.")
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise PasskeyError("That passkey response could not be read.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise PasskeyError("That passkey response could not be read.")
    if len(json.dumps(raw)) > MAX_CREDENTIAL_BYTES:
        raise PasskeyError("That passkey response is too large.")
    return raw


def passkeys_of(user_id: int) -> list[Passkey]:
    return list(
        db.session.execute(
            sa.select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
        ).scalars()
    )


def _descriptors(keys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers import base64url_to_bytes

    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(key.credential_id),
            transports=[AuthenticatorTransport(t) for t in key.transports if t in known] or None,
        )
        for key in keys
    ]


# -- adding a passkey -----------------------------------------------------------------------


def begin_registration(user: User, password: str) -> Ceremony:
    """``password``: the account's, asked again: a passkey signs in without the password or
    the code, so a stolen session or token must not be able to add one."""
    if not verify_password(user.password_hash, password or ""):
        audit("account.passkey_refused", target_user_id=user.id, detail="register: wrong password")
        keep_on_refusal("a refused passkey is audited")
        raise PasskeyError("Your password is not correct.", "wrong-password")
    keys = passkeys_of(user.id)
    if len(keys) >= MAX_PASSKEYS:
        raise PasskeyError(
            f"You have {MAX_PASSKEYS} passkeys, the most an account can keep. Remove one you "
            "no longer use first.",
            "too-many-passkeys",
        )
    from app.store.settings import store_details

    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=store_details().name,
        user_name=user.email,
        user_id=_user_handle(user),
        user_display_name=user.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(keys),  # the same device is not added twice
        timeout=CEREMONY_MINUTES * 60 * 1000,
    )
    return Ceremony(_begin("register", user.id, options.challenge), options_to_json(options))


def finish_registration(user: User, token: str | None, raw: Any, name: str) -> Passkey:
    challenge = _use(token, "register", user.id)
    credential = _credential(raw)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origins(),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        audit("account.passkey_refused", target_user_id=user.id, detail=f"register: {exc}")
        keep_on_refusal("a refused passkey is audited")
        raise PasskeyError("Your device's answer could not be checked. Please try again.") from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if len(passkeys_of(user.id)) >= MAX_PASSKEYS:
        raise PasskeyError(f"An account can keep {MAX_PASSKEYS} passkeys.", "too-many-passkeys")
    exists = db.session.execute(
        sa.select(Passkey.id).where(Passkey.credential_id == credential_id)
    ).scalar_one_or_none()
    if exists is not None:
        raise PasskeyError("That passkey is registered already.", "passkey-exists")
    transports = (credential.get("response") or {}).get("transports") or []
    key = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t)[:16] for t in transports if isinstance(t, str)][:8],
        name=" ".join((name or "").split())[:64] or "Passkey",
        backed_up=verified.credential_backed_up,
        created_at=utcnow(),
    )
    db.session.add(key)
    db.session.flush()
    audit("account.passkey_added", actor_id=user.id, target_user_id=user.id, target=key.name)
    notify(  # a passkey added by someone else is noticed
        "passkey-added",
        to=user.email,
        user_id=user.id,
        variables={
            "name": user.name,
            "passkey_name": key.name,
            "added_at": f"{utcnow():%d %B %Y at %H:%M} UTC",
            "passkeys_url": external_url("accounts.passkeys_page"),
            "reset_url": external_url("accounts.forgot_password"),
        },
    )
    return key


def remove_passkey(user: User, passkey_id: int) -> Passkey | None:
    key = db.session.execute(
        sa.select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    ).scalar_one_or_none()
    if key is None:
        return None
    db.session.delete(key)
    db.session.flush()
    audit("account.passkey_removed", actor_id=user.id, target_user_id=user.id, target=key.name)
    return key


# -- signing in, or the second factor ---------------------------------------------------------


def begin_sign_in(user: User | None = None) -> Ceremony:
    """``user``: a staff member's second factor (their passkeys only); None: a customer's
    passwordless sign-in (the browser offers the accounts it has passkeys for)."""
    purpose = "second-factor" if user is not None else "sign-in"
    keys = passkeys_of(user.id) if user is not None else []
    if user is not None and not keys:
        raise PasskeyError("This account has no passkey.", "no-passkey")
    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=_descriptors(keys),
        user_verification=UserVerificationRequirement.REQUIRED
        if user is None
        else UserVerificationRequirement.PREFERRED,
        timeout=CEREMONY_MINUTES * 60 * 1000,
    )
    token = _begin(purpose, user.id if user else None, options.challenge)
    return Ceremony(token, options_to_json(options))


def finish_sign_in(token: str | None, raw: Any, *, user: User | None = None) -> User:
    """The account a passkey proves (``user``: the staff member whose second factor this
    is). PasskeyError otherwise; refusals are audited and stand."""
    purpose = "second-factor" if user is not None else "sign-in"
    challenge = _use(token, purpose, user.id if user else None)
    credential = _credential(raw)
    key = db.session.execute(
        sa.select(Passkey).where(Passkey.credential_id == credential["id"][:1400])
    ).scalar_one_or_none()
    if key is None or (user is not None and key.user_id != user.id):
        _refuse(user.id if user else None, "unknown passkey")
    assert key is not None
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origins(),
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
            require_user_verification=user is None,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        _refuse(key.user_id, str(exc))
    owner = db.session.get(User, key.user_id)
    if owner is None or not owner.is_active:
        _refuse(key.user_id, "inactive account")
    assert owner is not None
    if user is None and owner.is_staff:
        _refuse(owner.id, "staff sign in with a password and a second factor")
    key.sign_count, key.last_used_at = verified.new_sign_count, utcnow()
    audit(
        "login.passkey" if user is None else "login.2fa_success",
        actor_id=owner.id,
        target_user_id=owner.id,
        detail=f"passkey {key.name}",
    )
    return owner


def _refuse(user_id: int | None, why: str) -> NoReturn:
    audit("account.passkey_refused", target_user_id=user_id, detail=why[:200])
    keep_on_refusal("a refused passkey is audited")
    raise PasskeyError("That passkey could not sign you in.", "passkey-refused")

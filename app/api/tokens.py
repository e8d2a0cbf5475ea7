"""API tokens: short-lived signed access tokens and rotating, hashed refresh tokens.

* Access token: ``URLSafeTimedSerializer`` (SECRET_KEY, salt ``api.access``) over
  ``{"u": user_id, "f": family_id}``; the signed timestamp gives the 15-minute expiry.
* Refresh token: 256 random bits, stored as a SHA-256 hash in :class:`ApiToken`, valid for
  7 days, single use. Using it rotates it (a new token in the same family); presenting a
  spent one again revokes the whole family (a stolen token was used by someone).
* Every authenticated request checks, in one indexed query, that the user is active and the
  family is not revoked, so revocation is immediate.

Services flush, never commit.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.accounts.audit import audit
from app.accounts.models import User
from app.api.models import ApiToken
from app.db import affected, keep_on_refusal, utcnow
from app.extensions import db

ACCESS_SALT = "api.access"
ACCESS_TOKEN_SECONDS = 15 * 60
REFRESH_TOKEN_DAYS = 7


class TokenError(Exception):
    """An unusable token; ``code`` is the stable problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def now() -> float:
    """The clock of access tokens (a function, so tests can move time)."""
    return time.time()


class _ClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(now())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=ACCESS_SALT, signer=_ClockSigner
    )


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family_id: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    family_id: str


def make_access_token(user_id: int, family_id: str) -> str:
    return _serializer().dumps({"u": user_id, "f": family_id})


def read_access_token(token: str) -> AccessClaims:
    """The claims of a well-signed, unexpired access token (no database access)."""
    if not token or len(token) > 512:
        raise TokenError("invalid-token", "The access token is not valid.")
    try:
        data: Any = _serializer().loads(token, max_age=ACCESS_TOKEN_SECONDS)
    except SignatureExpired as exc:
        raise TokenError("token-expired", "The access token has expired; refresh it.") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise TokenError("invalid-token", "The access token is not valid.") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("u"), int)
        or not isinstance(data.get("f"), str)
    ):
        raise TokenError("invalid-token", "The access token is not valid.")
    return AccessClaims(user_id=data["u"], family_id=data["f"])


def authenticate_access_token(token: str) -> tuple[User, AccessClaims]:
    """The active user of a valid access token whose family is not revoked (one query)."""
    claims = read_access_token(token)
    revoked = (
        sa.select(ApiToken.id)
        .where(ApiToken.family_id == claims.family_id, ApiToken.revoked_at.is_not(None))
        .exists()
    )
    user = db.session.execute(
        sa.select(User).where(User.id == claims.user_id, ~revoked)
    ).scalar_one_or_none()
    if user is None or not user.is_active:
        raise TokenError("invalid-token", "The access token is no longer valid.")
    return user, claims


def _new_refresh_token(user_id: int, family_id: str) -> str:
    raw = secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_token(raw),
            created_at=utcnow(),
            expires_at=utcnow() + timedelta(days=REFRESH_TOKEN_DAYS),
        )
    )
    db.session.flush()
    return raw


def issue_tokens(user: User) -> TokenPair:
    """A new family for a fresh sign-in."""
    family_id = secrets.token_hex(16)
    refresh = _new_refresh_token(user.id, family_id)
    audit("api.login", actor_id=user.id, target_user_id=user.id)
    return TokenPair(
        make_access_token(user.id, family_id), refresh, ACCESS_TOKEN_SECONDS, family_id
    )


def rotate_refresh_token(raw: str) -> TokenPair:
    """Spend a refresh token for a new pair in the same family.

    A token that was already spent revokes its family and raises ``token-reused``; the caller
    must commit that revocation even though it answers with an error.
    """
    row = db.session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw or ""))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise TokenError("invalid-token", "The refresh token is not valid.")
    # Conditional, so two requests racing with one token cannot both rotate it.
    spent = affected(
        sa.update(ApiToken)
        .where(ApiToken.id == row.id, ApiToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent != 1:
        revoke_family(row.family_id)
        audit("api.token_reused", target_user_id=row.user_id, detail=row.family_id)
        keep_on_refusal("a reused refresh token revokes its sign-in")
        raise TokenError(
            "token-reused", "This refresh token was already used; please sign in again."
        )
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise TokenError("invalid-token", "The refresh token is not valid.")
    refresh = _new_refresh_token(user.id, row.family_id)
    return TokenPair(
        make_access_token(user.id, row.family_id), refresh, ACCESS_TOKEN_SECONDS, row.family_id
    )


def revoke_family(family_id: str) -> int:
    return affected(
        sa.update(ApiToken)
        .where(ApiToken.family_id == family_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_refresh_family(raw: str) -> int:
    """Sign out: revoke the family of a refresh token (used or not); 0 when unknown."""
    family_id = db.session.execute(
        sa.select(ApiToken.family_id).where(ApiToken.token_hash == hash_token(raw or ""))
    ).scalar_one_or_none()
    return revoke_family(family_id) if family_id else 0


def revoke_all_for_user(user_id: int) -> int:
    """End every API sign-in of a user at once (password change or reset, deactivation,
    role change). Flushes only; the caller's unit of work commits."""
    return affected(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def delete_stale_refresh_tokens(retention_days: int, batch_size: int = 1000) -> int:
    """Delete up to ``batch_size`` refresh tokens that expired, or were revoked, more than
    ``retention_days`` ago; returns how many.

    Until then they are kept: a revoked family must stay revoked while its access tokens
    live (15 minutes), and support may want to see recent sign-ins. Spent tokens that have
    not expired are kept too, since presenting one again is how reuse is detected.
    """
    if retention_days < 1:
        raise ValueError("keep refresh tokens at least a day (revocations must outlive access)")
    cutoff = utcnow() - timedelta(days=retention_days)
    ids = list(
        db.session.execute(
            sa.select(ApiToken.id)
            .where(sa.or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff))
            .order_by(ApiToken.id)
            .limit(batch_size)
        ).scalars()
    )
    if ids:
        db.session.execute(
            sa.delete(ApiToken)
            .where(ApiToken.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)

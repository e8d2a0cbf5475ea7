"""Signed, expiring links (itsdangerous, keyed by SECRET_KEY): no home-made crypto.

Single use comes from binding each token to the state it changes: a verification token
names the email being verified (useless once verified or changed); a reset token carries a
fingerprint of the current password hash (useless once the password changed).
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import User

VERIFY_SALT = "accounts.verify-email"
RESET_SALT = "accounts.reset-password"


class TokenInvalid(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "expired" or "invalid"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_verify_token(user: User, email: str) -> str:
    return _serializer(VERIFY_SALT).dumps({"u": user.id, "e": email})


def read_verify_token(token: str) -> tuple[int, str]:
    max_age = current_app.config["VERIFY_TOKEN_HOURS"] * 3600
    data = _load(VERIFY_SALT, token, max_age)
    return int(data["u"]), str(data["e"])


def make_reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({"u": user.id, "p": _password_fingerprint(user)})


def read_reset_token(token: str) -> tuple[int, str]:
    max_age = current_app.config["RESET_TOKEN_MINUTES"] * 60
    data = _load(RESET_SALT, token, max_age)
    return int(data["u"]), str(data["p"])


def reset_token_matches(user: User, fingerprint: str) -> bool:
    return _password_fingerprint(user) == fingerprint


def _load(salt: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenInvalid("expired") from exc
    except BadSignature as exc:
        raise TokenInvalid("invalid") from exc
    if not isinstance(data, dict):
        raise TokenInvalid("invalid")
    return data

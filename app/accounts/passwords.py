"""Password hashing (Argon2id) and a policy per NIST SP 800-63B: length and guessability,
never composition rules, never truncation."""

from __future__ import annotations

from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn_rs_py import zxcvbn


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = ("argon2", cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"])
    # Flask types extensions as dict[str, Any]; this cache keys it by a tuple.
    extensions = cast(dict[Any, Any], current_app.extensions)
    hasher: PasswordHasher | None = extensions.get(key)
    if hasher is None:
        hasher = PasswordHasher(
            time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"], parallelism=1
        )
        extensions[key] = hasher
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


_DUMMY: dict[str, str] = {}


def burn_verify_time(password: str) -> None:
    """Spend the same time as a real check, so unknown emails answer like wrong passwords."""
    if "hash" not in _DUMMY:
        _DUMMY["hash"] = hash_password("not-a-real-password-but-a-timing-decoy")
    verify_password(_DUMMY["hash"], password)


def password_problems(password: str, user_inputs: list[str]) -> list[str]:
    """Why a password is refused, in words a person can act on. Empty when acceptable."""
    cfg = current_app.config
    if len(password) < cfg["PASSWORD_MIN_LENGTH"]:
        return [f"Use at least {cfg['PASSWORD_MIN_LENGTH']} characters."]
    if len(password) > cfg["PASSWORD_MAX_LENGTH"]:
        return [f"Use at most {cfg['PASSWORD_MAX_LENGTH']} characters."]
    # zxcvbn-rs (the maintained Rust port of Dropbox's zxcvbn) is slow on long input; the
    # estimate of the first 72 characters is a lower bound for the whole. The full password
    # is what gets hashed.
    result = zxcvbn(password[:72], [u for u in user_inputs if u])
    if int(result.score) >= cfg["PASSWORD_MIN_SCORE"]:
        return []
    problems = ["This password is too easy to guess."]
    feedback = result.feedback
    if feedback is not None:
        if feedback.warning is not None:
            problems.append(str(feedback.warning).rstrip(".") + ".")
        problems.extend(str(s) for s in feedback.suggestions[:2])
    return problems

"""Account verbs: sign-up, verification, sign-in with lockout, reset, password changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.accounts.audit import audit
from app.accounts.models import LoginThrottle, Role, User
from app.accounts.passwords import (
    burn_verify_time,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from app.accounts.sessions import revoke_all
from app.accounts.signed_links import (
    TokenInvalid,
    make_reset_token,
    make_verify_token,
    read_reset_token,
    read_verify_token,
    reset_token_matches,
)
from app.core.shop_errors import ShopError
from app.db import keep_on_refusal, upsert, utcnow
from app.extensions import db
from app.notifications.rendering import external_url
from app.notifications.services import notify

ACCOUNT_EXISTS = (
    "An account with this email already exists. Sign in, or reset your password if you forgot it."
)


class AccountError(ShopError):
    """A rule was broken; the message is safe and useful to show."""

    code = "account-rejected"


class InvalidCredentials(AccountError):
    pass


class AccountLocked(AccountError):
    pass


class WeakPassword(AccountError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


SIGN_IN_FAILED = "Email or password is incorrect."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def get_user_by_email(email: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def check_password_policy(password: str, *, email: str, name: str) -> None:
    shop = current_app.config["SHOP_NAME"]
    inputs = [email, email.split("@")[0], name, *name.split(), shop, "shopsphere", "password"]
    problems = password_problems(password, inputs)
    if problems:
        raise WeakPassword(problems)


def register_user(
    name: str, email: str, password: str, *, role: str = Role.CUSTOMER, verified: bool = False
) -> User:
    email = normalise_email(email)
    name = " ".join(name.split())
    if get_user_by_email(email) is not None:
        raise AccountError(ACCOUNT_EXISTS)
    check_password_policy(password, email=email, name=name)
    user = User(
        name=name,
        email=email,
        password_hash=hash_password(password),
        role=role,
        email_verified_at=utcnow() if verified else None,
        password_changed_at=utcnow(),
    )
    try:
        # Two sign-ups for one address at the same moment both pass the check above; the
        # unique index decides, and the later one gets the same answer as if it had come later.
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise AccountError(ACCOUNT_EXISTS) from None
    audit("account.created", actor_id=user.id, target_user_id=user.id, detail=f"role={role}")
    if not verified:
        send_verification(user)
    return user


def send_verification(user: User, email: str | None = None) -> None:
    email = email or user.email
    token = make_verify_token(user, email)
    notify(
        "verify-email",
        to=email,
        user_id=user.id,
        variables={
            "name": user.name,
            "email": email,
            "expires_hours": current_app.config["VERIFY_TOKEN_HOURS"],
            "verify_url": external_url("accounts.verify_email", token=token),
        },
    )


def resend_verification(user: User) -> bool:
    """A new confirmation link for an address not yet confirmed; False when it already is
    (nothing is sent). Web and API both ask here."""
    if user.is_verified:
        return False
    send_verification(user)
    return True


@dataclass
class VerifyOutcome:
    user: User
    changed_email: bool = False
    already: bool = False


def verify_email(token: str) -> VerifyOutcome:
    user_id, email = read_verify_token(token)  # raises TokenInvalid
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise TokenInvalid("invalid")
    if user.pending_email and email == user.pending_email:
        if get_user_by_email(email) is not None:
            raise AccountError("Another account uses that email address now.")
        old = user.email
        user.email, user.pending_email, user.email_verified_at = email, "", utcnow()
        from app.accounts.sign_in_links import retire_sign_in_links
        from app.payments.customers import account_changed

        account_changed(user)
        retire_sign_in_links(user.id)  # links sent to the old address stop working
        audit(
            "account.email_changed",
            actor_id=user.id,
            target_user_id=user.id,
            detail=f"{old} -> {email}",
        )
        notify(
            "email-changed",
            to=old,
            user_id=user.id,
            variables={"name": user.name, "old_email": old, "new_email": email},
        )
        return VerifyOutcome(user, changed_email=True)
    if email != user.email:
        raise TokenInvalid("invalid")
    if user.email_verified_at is not None:
        return VerifyOutcome(user, already=True)
    user.email_verified_at = utcnow()
    audit("account.verified", actor_id=user.id, target_user_id=user.id)
    notify(
        "welcome",
        to=user.email,
        user_id=user.id,
        variables={"name": user.name, "shop_url": external_url("catalog.home")},
    )
    return VerifyOutcome(user)


def _throttle_row(email: str) -> LoginThrottle | None:
    return db.session.execute(
        sa.select(LoginThrottle).where(LoginThrottle.email == email)
    ).scalar_one_or_none()


def _record_failure(email: str) -> int:
    """Count a failure atomically (concurrent attempts cannot lose counts)."""
    db.session.execute(
        upsert(LoginThrottle)
        .values(email=email, failures=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["email"])
    )
    db.session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.email == email)
        .values(failures=LoginThrottle.failures + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(
        sa.select(LoginThrottle.failures).where(LoginThrottle.email == email)
    ).scalar_one()


def locked_until(email: str) -> datetime | None:
    row = _throttle_row(normalise_email(email))
    if row and row.locked_until and row.locked_until > utcnow():
        return row.locked_until
    return None


def authenticate(email: str, password: str) -> User:
    """Check a sign-in. Unknown emails and wrong passwords look the same (message, status,
    time); lockout is per email address, whether or not it has an account, and ends by
    itself, by a password reset or by staff."""
    email = normalise_email(email)
    cfg = current_app.config
    minutes = cfg["LOCKOUT_MINUTES"]
    if locked_until(email):
        burn_verify_time(password)
        audit("login.blocked", target=email, detail="locked")
        keep_on_refusal("sign-in refused: audited")
        raise AccountLocked(
            f"Too many failed sign-in attempts. Try again in {minutes} minutes, "
            "or reset your password to unlock your account now."
        )
    user = get_user_by_email(email)
    if user is None:
        burn_verify_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    if not ok:
        failures = _record_failure(email)
        audit("login.failure", target_user_id=user.id if user else None, target=email)
        keep_on_refusal("failed sign-in counts toward the lockout")
        if failures >= cfg["LOCKOUT_THRESHOLD"]:
            db.session.execute(
                sa.update(LoginThrottle)
                .where(LoginThrottle.email == email)
                .values(locked_until=utcnow() + timedelta(minutes=minutes), failures=0)
                .execution_options(synchronize_session=False)
            )
            audit("account.locked", target_user_id=user.id if user else None, target=email)
            if user is not None:
                notify(
                    "account-locked",
                    to=user.email,
                    user_id=user.id,
                    variables={
                        "name": user.name,
                        "attempts": cfg["LOCKOUT_THRESHOLD"],
                        "minutes": minutes,
                        "reset_url": external_url("accounts.forgot_password"),
                    },
                )
            raise AccountLocked(
                f"Too many failed sign-in attempts. Try again in {minutes} "
                "minutes, or reset your password to unlock your account now."
            )
        raise InvalidCredentials(SIGN_IN_FAILED)
    assert user is not None
    clear_throttle(email)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit("login.success", actor_id=user.id, target_user_id=user.id)
    return user


def clear_throttle(email: str) -> None:
    db.session.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.email == normalise_email(email))
    )


def unlock_account(user: User, *, actor_id: int | None) -> None:
    clear_throttle(user.email)
    audit("account.unlocked", actor_id=actor_id, target_user_id=user.id)


def request_password_reset(email: str) -> None:
    """Email a reset link if the account exists; the caller answers the same either way."""
    user = get_user_by_email(email)
    if user is None or not user.is_active:
        audit("password.reset_requested", target=normalise_email(email), detail="no account")
        return
    token = make_reset_token(user)
    notify(
        "password-reset",
        to=user.email,
        user_id=user.id,
        variables={
            "name": user.name,
            "expires_minutes": current_app.config["RESET_TOKEN_MINUTES"],
            "reset_url": external_url("accounts.reset_password", token=token),
        },
    )
    audit("password.reset_requested", target_user_id=user.id)


def user_for_reset_token(token: str) -> User:
    user_id, fingerprint = read_reset_token(token)
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or not reset_token_matches(user, fingerprint):
        raise TokenInvalid("invalid")  # used already (password changed) or forged
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    _set_password(user, new_password)
    revoke_all(user.id)
    clear_throttle(user.email)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link proved they read this inbox
    audit("password.reset", actor_id=user.id, target_user_id=user.id)
    _tell_password_changed(user)
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current):
        raise InvalidCredentials("Your current password is not correct.")
    _set_password(user, new_password)
    revoke_all(user.id, except_id=user.current_session.id if user.current_session else None)
    audit("password.changed", actor_id=user.id, target_user_id=user.id)
    _tell_password_changed(user)


def _tell_password_changed(user: User) -> None:
    """The owner hears of every password change, so a stolen session that changed it is
    noticed: the email names the moment and the way back in."""
    notify(
        "password-changed",
        to=user.email,
        user_id=user.id,
        variables={
            "name": user.name,
            "changed_at": f"{utcnow():%d %B %Y at %H:%M} UTC",
            "reset_url": external_url("accounts.forgot_password"),
        },
    )


def _set_password(user: User, new_password: str) -> None:
    check_password_policy(new_password, email=user.email, name=user.name)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    db.session.flush()


def set_role(user: User, role: str, *, actor_id: int | None) -> None:
    if role not in set(Role):
        raise AccountError("Unknown role.")
    old = user.role
    user.role = role
    revoke_all(user.id)  # new privileges need a fresh sign-in (and TOTP for staff)
    audit(
        "account.role_changed", actor_id=actor_id, target_user_id=user.id, detail=f"{old} -> {role}"
    )


# --- Staff actions on other accounts (admin area, users.manage) --------------------------


def _not_yourself(user: User, actor_id: int | None, what: str) -> None:
    if actor_id is not None and user.id == actor_id:
        raise AccountError(f"You can't {what} your own account. Ask another administrator.")


def _not_deleted(user: User) -> None:
    if user.deleted_at is not None:
        raise AccountError("This account was deleted (anonymised); nothing can be changed.")


def _keep_an_admin(user: User) -> None:
    """Refuse to demote or deactivate the last active admin. The active admins' rows are
    locked in id order first (PostgreSQL; SQLite writes one at a time anyway), so two admins
    demoting each other at the same moment cannot both succeed."""
    if user.role != Role.ADMIN or not user.is_active_account:
        return
    admins = db.session.execute(
        sa.select(User.id)
        .where(
            User.role == Role.ADMIN,
            User.is_active_account.is_(True),
            User.deleted_at.is_(None),
        )
        .order_by(User.id)
        .with_for_update()
    ).scalars()
    if not any(admin_id != user.id for admin_id in admins):
        raise AccountError(
            "This is the last active admin account; make someone else an admin first."
        )


def change_role(user: User, role: str, *, actor_id: int | None) -> bool:
    """Staff changing someone's role: never their own (an admin cannot lock themselves out),
    never a deleted account. ``set_role`` ends the person's sessions. False when unchanged."""
    if role not in set(Role):
        raise AccountError("Choose one of the roles in the list.")
    _not_yourself(user, actor_id, "change the role of")
    _not_deleted(user)
    if user.role == role:
        return False
    if role != Role.ADMIN:
        _keep_an_admin(user)
    set_role(user, role, actor_id=actor_id)
    return True


def deactivate_account(user: User, *, actor_id: int | None) -> bool:
    """Stop the person signing in and end every browser and app sign-in at once."""
    _not_yourself(user, actor_id, "deactivate")
    _not_deleted(user)
    if not user.is_active_account:
        return False
    _keep_an_admin(user)
    user.is_active_account = False
    db.session.flush()
    ended = revoke_all(user.id)
    audit(
        "account.deactivated",
        actor_id=actor_id,
        target_user_id=user.id,
        detail=f"sessions_ended={ended}",
    )
    return True


def reactivate_account(user: User, *, actor_id: int | None) -> bool:
    _not_deleted(user)
    if user.is_active_account:
        return False
    user.is_active_account = True
    db.session.flush()
    audit("account.reactivated", actor_id=actor_id, target_user_id=user.id)
    return True


def reset_two_factor(user: User, *, actor_id: int | None) -> None:
    """For someone who lost their authenticator and recovery codes: two-factor off, codes
    gone, every session ended. Staff must enrol again at their next sign-in."""
    from app.accounts.models import RecoveryCode

    _not_yourself(user, actor_id, "reset two-factor authentication for")
    _not_deleted(user)
    if not user.totp_enabled:
        raise AccountError("Two-factor authentication is not on for this account.")
    user.totp_secret = ""
    user.totp_enabled_at = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    revoke_all(user.id)
    audit("2fa.reset", actor_id=actor_id, target_user_id=user.id, detail="by staff")


def anonymise_on_request(user: User, *, actor_id: int | None) -> None:
    """Delete a customer's personal data when they ask (e.g. by email): the same
    anonymisation as self-service deletion, so orders are kept without the person."""
    from app.accounts.profile import anonymise_account

    _not_yourself(user, actor_id, "anonymise")
    _not_deleted(user)
    if user.is_staff:
        raise AccountError("Staff and admin accounts can't be anonymised. Change the role first.")
    anonymise_account(user, actor_id=actor_id, detail="by staff on request")

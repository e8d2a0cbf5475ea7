"""Two-factor authentication pages: enrolment and management, and the sign-in challenge.

The rules live in :mod:`app.accounts.totp`; these views parse, authorise, call a service and
render or redirect.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import bp, totp
from app.accounts.models import User
from app.accounts.views import PENDING_2FA, sign_in
from app.core.redirects import after_sign_in
from app.extensions import cache, db, limiter

log = logging.getLogger(__name__)

SETUP_KEY = "totp_setup"  # {"user_id", "secret"}: the secret until the person confirms it
PENDING_TTL_SECONDS = 5 * 60
MAX_CODE_FAILURES = totp.MAX_CODE_FAILURES

CODE_KW = {
    "autocomplete": "one-time-code",
    "inputmode": "numeric",
    "autocapitalize": "off",
    "spellcheck": "false",
    "maxlength": 16,
}


class TOTPCodeForm(FlaskForm):
    code = StringField(
        "6-digit code from your authenticator app",
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app."),
            Length(max=16),
        ],
        render_kw=CODE_KW,
    )


class DisableTwoFactorForm(TOTPCodeForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )


class ChallengeForm(FlaskForm):
    code = StringField(
        "Authentication code or recovery code",
        validators=[
            DataRequired("Enter the code from your authenticator app, or a recovery code."),
            Length(max=64, message="That code is too long."),
        ],
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
            "maxlength": 64,
        },
    )


# -- enrolment and management -----------------------------------------------------------------


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def two_factor_setup() -> str | Response:
    user: User = current_user._get_current_object()
    if user.totp_enabled:
        return _manage(user)
    return _enrol(user)


def _enrol(user: User) -> str | Response:
    pending = session.get(SETUP_KEY)
    if not (
        isinstance(pending, dict) and pending.get("user_id") == user.id and pending.get("secret")
    ):
        if request.method == "POST":
            flash("Your setup expired. Scan the new code below, then enter a code.", "info")
            return redirect(url_for("accounts.two_factor_setup"))
        pending = {"user_id": user.id, "secret": totp.new_secret()}
        session[SETUP_KEY] = pending
    secret = pending["secret"]
    form = TOTPCodeForm()
    if request.method == "POST" and request.form.get("action") != "enable":
        abort(400)
    if form.validate_on_submit():
        try:
            codes = totp.enable(user, secret, form.code.data)
        except totp.TwoFactorError as exc:
            form.code.errors.append(str(exc))
        else:
            session.pop(SETUP_KEY, None)
            flash("Two-factor authentication is on.", "success")
            return _show_recovery_codes(codes)
    uri = totp.provisioning_uri(secret, user.email)
    return render_template(
        "accounts/two_factor_setup.html",
        enabled=False,
        form=form,
        qr_svg=totp.qr_svg(uri),
        secret=totp.format_secret(secret),
    )


def _manage(user: User) -> str | Response:
    session.pop(SETUP_KEY, None)
    regenerate = TOTPCodeForm(prefix="regenerate")
    disable = DisableTwoFactorForm(prefix="disable")
    if request.method == "POST":
        action = request.form.get("action")
        if action == "regenerate":
            if regenerate.validate_on_submit():
                try:
                    codes = totp.regenerate_recovery_codes(user, regenerate.code.data)
                except totp.TwoFactorError as exc:
                    regenerate.code.errors.append(str(exc))
                else:
                    flash("New recovery codes are ready. Your old codes no longer work.", "success")
                    return _show_recovery_codes(codes)
        elif action == "disable":
            if user.is_staff:
                flash(totp.STAFF_MUST_KEEP, "error")
                return redirect(url_for("accounts.two_factor_setup"))
            if disable.validate_on_submit():
                try:
                    totp.disable(user, disable.password.data, disable.code.data)
                except totp.TwoFactorError as exc:
                    getattr(disable, exc.field, disable.code).errors.append(str(exc))
                else:
                    flash("Two-factor authentication is off.", "info")
                    return redirect(url_for("accounts.two_factor_setup"))
        else:
            abort(400)
    return render_template(
        "accounts/two_factor_setup.html",
        enabled=True,
        regenerate=regenerate,
        disable=disable,
        can_disable=not user.is_staff,
        remaining=totp.remaining_recovery_codes(user.id),
    )


def _show_recovery_codes(codes: list[str]) -> Response:
    """Shown once, in the answer to the form that made them (never stored in the cookie)."""
    response = make_response(render_template("accounts/recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the second sign-in step ------------------------------------------------------------------


def _pending_login() -> dict[str, Any] | None:
    """The password step's state, stamped with a start time and a nonce on first sight."""
    data = session.get(PENDING_2FA)
    if not isinstance(data, dict) or not isinstance(data.get("user_id"), int):
        return None
    if "started_at" not in data or "nonce" not in data:
        data = {
            **data,
            "started_at": data.get("started_at", totp.now()),
            "nonce": data.get("nonce") or secrets.token_urlsafe(16),
        }
        session[PENDING_2FA] = data
    return data


def _drop_pending_login() -> None:
    session.pop(PENDING_2FA, None)


def _failures_key(pending: dict[str, Any]) -> str:
    return f"2fa-pending:{pending['nonce']}"


def _failures(pending: dict[str, Any]) -> int:
    """Wrong codes so far. Also kept in the cache, so replaying an older copy of the
    (client-side) session cookie cannot reset the count."""
    count = int(pending.get("failures", 0))
    try:
        count = max(count, int(cache.get(_failures_key(pending)) or 0))
    except Exception:
        log.warning("cache unavailable reading two-factor failures", exc_info=True)
    return count


def _set_failures(pending: dict[str, Any], count: int) -> None:
    session[PENDING_2FA] = {**pending, "failures": count}
    try:
        cache.set(_failures_key(pending), count, timeout=PENDING_TTL_SECONDS + 60)
    except Exception:
        log.warning("cache unavailable recording two-factor failures", exc_info=True)


def _back_to_password(message: str, category: str = "info") -> Response:
    _drop_pending_login()
    flash(message, category)
    return redirect(url_for("accounts.login"))


def pending_login_user() -> tuple[dict[str, Any], User] | None:
    """The sign-in waiting for its second factor, and its account, while it may still
    complete (not timed out, not spent, the account active with two-factor on)."""
    pending = _pending_login()
    if pending is None or totp.now() - float(pending["started_at"]) > PENDING_TTL_SECONDS:
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or not user.totp_enabled:
        return None
    if _failures(pending) >= MAX_CODE_FAILURES:
        return None
    return pending, user


def complete_pending_login(pending: dict[str, Any], user: User, *, remaining: int | None) -> str:
    """The second factor is right (a code, a recovery code or a passkey): sign in; returns
    where to go next."""
    next_url = after_sign_in(pending.get("next"), staff=user.is_staff)
    _set_failures(pending, MAX_CODE_FAILURES)  # this pending login is spent
    sign_in(
        user,
        remember=bool(pending.get("remember")),
        second_factor=True,
        guest_cart=pending.get("guest_cart"),
    )  # clears the session
    if remaining is None:
        flash(f"Welcome back, {user.name}.", "success")
    else:
        _flash_remaining(remaining)
    return next_url


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def two_factor_challenge() -> str | Response:
    pending = _pending_login()
    if pending is None:
        return redirect(url_for("accounts.login"))
    if totp.now() - float(pending["started_at"]) > PENDING_TTL_SECONDS:
        return _back_to_password("That took too long. Please sign in again.")
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or not user.totp_enabled:
        return _back_to_password("Please sign in again.")
    if _failures(pending) >= MAX_CODE_FAILURES:
        return _back_to_password(
            "Too many wrong codes. Please sign in again with your password.", "error"
        )
    form = ChallengeForm()
    if form.validate_on_submit():
        try:
            remaining = totp.verify_second_factor(user, form.code.data, channel="web")
        except totp.SecondFactorPaused as exc:
            return _back_to_password(str(exc), "error")
        except totp.WrongSecondFactor:
            failures = _failures(pending) + 1
            _set_failures(pending, failures)
            if failures >= MAX_CODE_FAILURES:
                return _back_to_password(
                    "Too many wrong codes. Please sign in again with your password.", "error"
                )
            form.code.errors.append(
                "That code is not correct, or it was already used. Enter the current code "
                "from your authenticator app, or one of your recovery codes."
            )
        else:
            return redirect(complete_pending_login(pending, user, remaining=remaining))
    from app.accounts.passkeys import passkeys_of

    return render_template(
        "accounts/two_factor_challenge.html", form=form, has_passkeys=bool(passkeys_of(user.id))
    )


def _flash_remaining(remaining: int) -> None:
    if remaining == 0:
        flash(
            "You used your last recovery code. Create new ones now on the two-factor "
            "authentication page.",
            "warning",
        )
    elif remaining == 1:
        flash("You signed in with a recovery code. You have 1 recovery code left.", "warning")
    else:
        flash(
            f"You signed in with a recovery code. You have {remaining} recovery codes left.",
            "warning" if remaining <= 3 else "info",
        )

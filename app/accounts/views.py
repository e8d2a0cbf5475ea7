"""Sign-up, verification, sign-in/out, password reset, account overview and security."""

from __future__ import annotations

import secrets
import time

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.accounts import bp
from app.accounts.forms import (
    ChangePasswordForm,
    EmptyForm,
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
    SignInLinkForm,
    SignupForm,
)
from app.accounts.services import (
    AccountError,
    AccountLocked,
    WeakPassword,
    authenticate,
    change_password,
    register_user,
    request_password_reset,
    reset_password,
    user_for_reset_token,
    verify_email,
)
from app.accounts.services import (
    resend_verification as resend_link,
)
from app.accounts.sessions import (
    list_active_sessions,
    sign_out,
    sign_out_everywhere,
    start_session,
)
from app.accounts.sign_in_links import (
    LINK_MINUTES,
    check_sign_in_link,
    send_sign_in_link,
    use_sign_in_link,
)
from app.accounts.signed_links import TokenInvalid
from app.core.redirects import after_sign_in, local_url, safe_next
from app.extensions import limiter
from app.ratelimit import (
    ACCOUNT_SECRETS_LIMIT,
    ACCOUNT_SECRETS_SCOPE,
    SIGN_IN_LINK_LIMIT,
    SIGN_IN_LINK_SCOPE,
    account_key,
    sign_in_link_key,
)

PENDING_2FA = "pending_2fa"


def sign_in(user, *, remember: bool, second_factor: bool, guest_cart: str | None = None) -> None:
    """A fresh session for a fresh sign-in (no fixation): the old cookie's contents go, and
    the guest cart, if any, merges into the user's cart (what was merged or capped is said)."""
    from app.cart.merge import merge_guest_cart
    from app.cart.services import find_cart

    guest_token = guest_cart or session.get("guest_cart")
    session.clear()
    start_session(user, remember=remember, second_factor=second_factor)
    session.permanent = remember
    login_user(user, remember=False, fresh=True)
    guest = find_cart(user_id=None, token=guest_token) if guest_token else None
    if guest is not None:
        for message in merge_guest_cart(guest, user.id):
            flash(message, "info")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def signup() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.overview"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = register_user(form.name.data, form.email.data, form.password.data)
        except WeakPassword as exc:
            form.password.errors.extend(exc.problems)
        except AccountError as exc:
            form.email.errors.append(str(exc))
        else:
            sign_in(user, remember=False, second_factor=False)
            flash(
                f"Welcome, {user.name}! We sent a link to {user.email} to confirm your email "
                "address.",
                "success",
            )
            return redirect(safe_next(request.args.get("next")))
    return render_template("accounts/signup.html", form=form)


def _ask_second_factor(user, *, remember: bool) -> Response:
    """The first factor passed (password or sign-in link): the code comes next."""
    guest_cart = session.get("guest_cart")
    session.clear()
    session[PENDING_2FA] = {
        "user_id": user.id,
        "remember": remember,
        "next": local_url(request.args.get("next")),
        "guest_cart": guest_cart,
        "started_at": time.time(),
        "nonce": secrets.token_urlsafe(16),
    }
    return redirect(url_for("accounts.two_factor_challenge"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated and current_user.current_session.second_factor_at:
        return redirect(after_sign_in(request.args.get("next"), staff=current_user.is_staff))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except AccountError as exc:
            # Same message and status for unknown emails and wrong passwords.
            form.form_errors.append(str(exc))
            return render_template(
                "accounts/login.html", form=form, locked=isinstance(exc, AccountLocked)
            )
        if user.totp_enabled:
            return _ask_second_factor(user, remember=bool(form.remember.data))
        sign_in(user, remember=bool(form.remember.data), second_factor=False)
        if user.is_staff:  # the setup page says why, once
            return redirect(url_for("accounts.two_factor_setup"))
        flash(f"Welcome back, {user.name}.", "success")
        return redirect(after_sign_in(request.args.get("next"), staff=user.is_staff))
    return render_template("accounts/login.html", form=form, locked=False)


@bp.route("/login/link", methods=["GET", "POST"], endpoint="request_sign_in_link")
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
@limiter.shared_limit(
    SIGN_IN_LINK_LIMIT, SIGN_IN_LINK_SCOPE, key_func=sign_in_link_key, methods=["POST"]
)
def request_sign_in_link_view() -> str | Response:
    form = SignInLinkForm()
    if form.validate_on_submit():
        send_sign_in_link(form.email.data)
        flash(
            "If a customer account exists for that address, we sent it a sign-in link. It "
            f"works once, for {LINK_MINUTES} minutes.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/sign_in_link.html", form=form)


def _link_problem(exc: TokenInvalid) -> tuple[str, int]:
    return render_template("accounts/link_problem.html", reason=exc.reason, kind="sign-in"), 400


@bp.get("/login/link/<token>", endpoint="sign_in_link")
def sign_in_link_page(token: str) -> str | tuple[str, int]:
    """A button, not a sign-in: mail scanners open links, people press buttons."""
    try:
        check_sign_in_link(token)
    except TokenInvalid as exc:
        return _link_problem(exc)
    return render_template("accounts/sign_in_link_use.html", form=EmptyForm(), token=token)


@bp.post("/login/link/<token>", endpoint="use_sign_in_link")
@limiter.limit("10 per minute")
def use_sign_in_link_view(token: str) -> Response | tuple[str, int]:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        used = use_sign_in_link(token)
    except TokenInvalid as exc:
        return _link_problem(exc)
    user = used.user
    if user.totp_enabled:
        response = _ask_second_factor(user, remember=False)
    else:
        sign_in(user, remember=False, second_factor=False)
        flash(
            f"Welcome back, {user.name}. You are signed in with the link we emailed you.",
            "success",
        )
        response = redirect(after_sign_in(None, staff=False))
    if used.confirmed_now:  # after the session was started afresh, so it is kept
        flash(
            "Your email address is confirmed. For your safety, any password set for this "
            "account before is no longer valid: choose one with “Forgot your password?” "
            "whenever you want one.",
            "info",
        )
    return response


@bp.post("/logout")
def logout() -> Response:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        sign_out(current_user._get_current_object())
        logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.home"))


@bp.get("/verify/<token>", endpoint="verify_email")
def verify_email_view(token: str) -> str | tuple[str, int] | Response:
    try:
        outcome = verify_email(token)
    except TokenInvalid as exc:
        return render_template(
            "accounts/link_problem.html", reason=exc.reason, kind="confirmation"
        ), 400
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.overview"))
    if outcome.changed_email:
        flash(f"Your email address is now {outcome.user.email}.", "success")
    elif outcome.already:
        flash("Your email address was already confirmed.", "info")
    else:
        flash("Thank you, your email address is confirmed.", "success")
    return redirect(
        url_for("accounts.overview") if current_user.is_authenticated else url_for("accounts.login")
    )


@bp.post("/verify/resend")
@login_required
@limiter.limit("3 per 10 minutes")
def resend_verification() -> Response:
    form = EmptyForm()
    if form.validate_on_submit() and resend_link(current_user):
        flash(f"We sent a new confirmation link to {current_user.email}.", "success")
    return redirect(url_for("accounts.overview"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def forgot_password() -> str | Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data)
        flash(
            "If an account exists for that address, we sent it a link to choose a new "
            "password. The link works for 60 minutes.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"], endpoint="reset_password")
@limiter.limit("10 per minute", methods=["POST"])
def reset_password_view(token: str) -> str | Response | tuple[str, int]:
    try:
        user_for_reset_token(token)
    except TokenInvalid as exc:
        return render_template(
            "accounts/link_problem.html", reason=exc.reason, kind="password reset"
        ), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = reset_password(token, form.password.data)
        except WeakPassword as exc:
            form.password.errors.extend(exc.problems)
        else:
            logout_user()
            sign_in(user, remember=False, second_factor=False)
            if user.totp_enabled:  # a reset must not skip the second factor
                logout_user()
                session.clear()
                flash(
                    "Your password was changed. Sign in with it and your authenticator code.",
                    "success",
                )
                return redirect(url_for("accounts.login"))
            flash(
                "Your password was changed and you are signed in. Other devices were signed out.",
                "success",
            )
            return redirect(url_for("accounts.overview"))
    return render_template("accounts/reset.html", form=form)


@bp.get("")
@login_required
def overview() -> str:
    return render_template("accounts/overview.html", form=EmptyForm())


@bp.route("/security", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(
    ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, key_func=account_key, methods=["POST"]
)
def security() -> str | Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.new_password.data)
        except WeakPassword as exc:
            form.new_password.errors.extend(exc.problems)
        except AccountError as exc:
            form.current_password.errors.append(str(exc))
        else:
            flash("Your password was changed. Other devices were signed out.", "success")
            return redirect(url_for("accounts.security"))
    return render_template(
        "accounts/security.html",
        form=form,
        empty=EmptyForm(),
        sessions=list_active_sessions(current_user.id),
    )


@bp.post("/security/logout-everywhere")
@login_required
def logout_everywhere() -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    sign_out_everywhere(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You were signed out on every device.", "info")
    return redirect(url_for("accounts.login"))

"""Passkey pages and the JSON endpoints their script calls (static/js/passkeys.js).

WebAuthn is a browser API, so these need JavaScript; without it the buttons stay hidden and
the password, the emailed link and the authenticator code remain. Removing a passkey is a
plain form. The ceremony's token stays in the session cookie, never in the page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.accounts import bp
from app.accounts.forms import EmptyForm
from app.accounts.passkeys import (
    MAX_PASSKEYS,
    PasskeyError,
    begin_registration,
    begin_sign_in,
    finish_registration,
    finish_sign_in,
    passkeys_of,
    remove_passkey,
)
from app.accounts.two_factor import complete_pending_login, pending_login_user
from app.core.errors import problem
from app.core.redirects import after_sign_in
from app.extensions import limiter
from app.ratelimit import ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, account_key

CEREMONY = "passkey_ceremony"


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _refused(exc: PasskeyError, status: int = 400) -> Response:
    return problem(status, str(exc), code=exc.code)


@bp.get("/passkeys")
@login_required
def passkeys_page() -> str:
    return render_template(
        "accounts/passkeys.html",
        passkeys=passkeys_of(current_user.id),
        empty=EmptyForm(),
        max_passkeys=MAX_PASSKEYS,
    )


@bp.post("/passkeys/options", endpoint="passkey_register_options")
@login_required
@limiter.limit("10 per minute")
@limiter.shared_limit(ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, key_func=account_key)
def register_options() -> Response:
    try:
        ceremony = begin_registration(
            current_user._get_current_object(), str(_body().get("password") or "")[:1024]
        )
    except PasskeyError as exc:
        return _refused(exc, 403 if exc.code == "wrong-password" else 409)
    session[CEREMONY] = ceremony.token
    return Response(ceremony.options, mimetype="application/json")


@bp.post("/passkeys", endpoint="passkey_register")
@login_required
@limiter.limit("10 per minute")
def register() -> Response:
    body = _body()
    try:
        key = finish_registration(
            current_user._get_current_object(),
            session.pop(CEREMONY, None),
            body.get("credential"),
            str(body.get("name") or "")[:200],
        )
    except PasskeyError as exc:
        return _refused(exc)
    flash(f"Passkey “{key.name}” added. You can sign in with it now.", "success")
    return jsonify(redirect=url_for("accounts.passkeys_page")), 201  # type: ignore[return-value]


@bp.post("/passkeys/<int:passkey_id>/remove", endpoint="remove_passkey")
@login_required
def remove(passkey_id: int) -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    key = remove_passkey(current_user._get_current_object(), passkey_id)
    if key is None:
        abort(404)
    flash(f"Passkey “{key.name}” removed. It can no longer sign in to your account.", "success")
    return redirect(url_for("accounts.passkeys_page"), code=303)


# -- signing in ------------------------------------------------------------------------------


@bp.post("/login/passkey/options", endpoint="passkey_sign_in_options")
@limiter.limit("20 per minute")
def sign_in_options() -> Response:
    ceremony = begin_sign_in()
    session[CEREMONY] = ceremony.token
    return Response(ceremony.options, mimetype="application/json")


@bp.post("/login/passkey", endpoint="passkey_sign_in")
@limiter.limit("10 per minute")
def sign_in_with_passkey() -> Response:
    from app.accounts.views import sign_in

    try:
        user = finish_sign_in(session.pop(CEREMONY, None), _body().get("credential"))
    except PasskeyError as exc:
        return _refused(exc)
    sign_in(user, remember=False, second_factor=True)  # the device and its PIN: two factors
    flash(f"Welcome back, {user.name}. You are signed in with your passkey.", "success")
    return jsonify(redirect=after_sign_in(request.args.get("next"), staff=False))


# -- a passkey as the second factor (after the password) ------------------------------------


@bp.post("/login/two-factor/passkey/options", endpoint="passkey_second_factor_options")
@limiter.limit("10 per minute")
def second_factor_options() -> Response:
    found = pending_login_user()
    if found is None:
        return problem(401, "Sign in with your password first.", code="no-pending-sign-in")
    try:
        ceremony = begin_sign_in(found[1])
    except PasskeyError as exc:
        return _refused(exc, 409)
    session[CEREMONY] = ceremony.token
    return Response(ceremony.options, mimetype="application/json")


@bp.post("/login/two-factor/passkey", endpoint="passkey_second_factor")
@limiter.limit("10 per minute")
def second_factor() -> Response:
    found = pending_login_user()
    if found is None:
        return problem(401, "Sign in with your password first.", code="no-pending-sign-in")
    pending, user = found
    try:
        finish_sign_in(session.pop(CEREMONY, None), _body().get("credential"), user=user)
    except PasskeyError as exc:
        return _refused(exc)
    return jsonify(redirect=complete_pending_login(pending, user, remaining=None))

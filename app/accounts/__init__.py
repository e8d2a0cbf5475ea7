"""Accounts: sign-up, verification, sign-in, lockout, reset, sessions, profile, roles, audit."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, url_prefix="/account")

from app.accounts import models, profile_views, two_factor, views  # noqa: E402,F401

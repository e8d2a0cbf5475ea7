"""Accounts: sign-up, verification, sign-in, lockout, reset, sessions, profile, roles, audit."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, url_prefix="/account")

from app.accounts import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)

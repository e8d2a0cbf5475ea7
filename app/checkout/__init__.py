"""Checkout pages: details, review with the server's totals, pay, return from payment."""

from flask import Blueprint

from app.core.security import never_stored

bp = Blueprint("checkout", __name__)
never_stored(bp)

from app.checkout import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)

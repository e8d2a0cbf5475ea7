"""Checkout pages: details, review with the server's totals, pay, return from payment."""

from flask import Blueprint

bp = Blueprint("checkout", __name__)

from app.checkout import models, views  # noqa: E402,F401

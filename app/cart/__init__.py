"""Cart: guest and signed-in carts, HTMX interactions, limits, merge on sign-in."""

from flask import Blueprint

bp = Blueprint("cart", __name__, url_prefix="/cart")

from app.cart import models, views  # noqa: E402,F401

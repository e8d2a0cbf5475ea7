"""Cart: guest and signed-in carts, HTMX interactions, limits, merge on sign-in."""

from flask import Blueprint

bp = Blueprint("cart", __name__, url_prefix="/cart")

from app.cart import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)

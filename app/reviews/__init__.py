"""Reviews and ratings: buyers rate a product 1–5 with an optional title and text, staff
moderate, approved reviews and the average show on the product (and in its JSON-LD)."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)

from app.reviews import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)

"""Wishlists: products a signed-in shopper keeps for later, saved from product cards and
pages, listed at /wishlist with move-to-cart, and in the API."""

from flask import Blueprint

bp = Blueprint("wishlist", __name__, url_prefix="/wishlist")

from app.wishlists import models  # noqa: E402,F401  (routes: app.ROUTE_MODULES)

"""Catalog: categories, products with variants, images, search and the storefront pages."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)

# Routes: app.ROUTE_MODULES (views, media).

"""Catalog: categories, products with variants, images, search and the storefront pages."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)

from app.catalog import media, views  # noqa: E402,F401

"""The shop's own pages: terms, privacy, returns and withdrawal, shipping, contact. Staff edit
them in the admin area; the storefront footer and the checkout link to them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

# Routes: app.ROUTE_MODULES.

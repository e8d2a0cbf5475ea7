"""Staff area at /admin. Every view names the permission it needs (see accounts.permissions):
customers and anonymous visitors get 404, staff without two-factor are sent to enrol."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.admin import views  # noqa: E402,F401

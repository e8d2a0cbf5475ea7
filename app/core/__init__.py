"""Cross-cutting web concerns: security headers, observability, errors, health, home."""

from flask import Blueprint

bp = Blueprint("core", __name__)

# Routes: app.ROUTE_MODULES.

"""Cross-cutting web concerns: security headers, observability, errors, health, home."""

from flask import Blueprint

bp = Blueprint("core", __name__)

from app.core import views  # noqa: E402,F401

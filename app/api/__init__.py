"""JSON API v1 for the mobile app. Errors are problem+json (see app.core.errors)."""

from flask import Blueprint

bp = Blueprint("api", __name__)


@bp.get("/")
def index() -> dict[str, str]:
    return {"name": "ShopSphere API", "version": "v1"}

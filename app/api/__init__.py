"""JSON API v1 for the mobile app. Errors are problem+json (see app.core.errors).

Authenticated by bearer tokens only (never the session cookie), so the blueprint is exempt
from CSRF. Every request is rate-limited per user (valid access token) or per IP.
"""

from flask import Blueprint, Response, request

from app.extensions import csrf

bp = Blueprint("api", __name__, template_folder="templates")
csrf.exempt(bp)

_PRIVATE_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/me/",
    "/api/v1/orders",
    "/api/v1/cart",
    "/api/v1/checkout",
)


@bp.after_request
def _no_store_private(response: Response) -> Response:
    """Tokens (RFC 6749 section 5.1) and everything about an account, cart or order are
    never stored by a browser, proxy or HTTP cache, errors included."""
    path = request.path
    if path == "/api/v1/me" or path.startswith(_PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
    return response


# The operations register themselves when app.ROUTE_MODULES are imported.
from app.api import models  # noqa: E402,F401  (the ApiToken table, for metadata and Alembic)
from app.api.limits import limit_blueprint  # noqa: E402

limit_blueprint(bp)  # per user (or IP) and a per-IP ceiling; see app.api.limits

"""JSON API v1 for the mobile app. Errors are problem+json (see app.core.errors).

Authenticated by bearer tokens only (never the session cookie), so the blueprint is exempt
from CSRF. Every request is rate-limited per user (valid access token) or per IP.
"""

from flask import Blueprint

from app.extensions import csrf

bp = Blueprint("api", __name__, template_folder="templates")
csrf.exempt(bp)

from app.api import (  # noqa: E402,F401  (register the operations)
    auth,
    cart,
    catalog,
    checkout,
    docs,
    models,  # noqa: E402,F401  (the ApiToken table, for metadata and Alembic)
    orders,
    profile,
)
from app.api.limits import limit_blueprint  # noqa: E402

limit_blueprint(bp)  # per user (or IP) and a per-IP ceiling; see app.api.limits

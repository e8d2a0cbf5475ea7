"""Orders: pricing, stock reservation, the order state machine and payment fulfilment."""

from flask import Blueprint, Response

bp = Blueprint("orders", __name__)


@bp.after_request
def _never_stored(response: Response) -> Response:
    """A customer's own orders: never kept by a
    shared cache, nor shown again from the browser's history as they were (Back after
    paying must not offer to pay again)."""
    response.headers["Cache-Control"] = "no-store"
    return response


from app.orders import models, views  # noqa: E402,F401

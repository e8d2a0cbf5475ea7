"""Checkout pages: details, review with the server's totals, pay, return from payment."""

from flask import Blueprint, Response

bp = Blueprint("checkout", __name__)


@bp.after_request
def _never_stored(response: Response) -> Response:
    """Checkout pages show a shopper's own cart, addresses and orders: never kept by a
    shared cache, nor shown again from the browser's history as they were (Back after
    paying must not offer to pay again)."""
    response.headers["Cache-Control"] = "no-store"
    return response


from app.checkout import models, views  # noqa: E402,F401

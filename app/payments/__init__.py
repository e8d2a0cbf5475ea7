"""Payments: Stripe Checkout (app/payments/stripe_gateway.py is the only module that imports
stripe), the offline sandbox for development, the webhook receiver and fulfilment."""

from flask import Blueprint, Response

bp = Blueprint("payments", __name__)


@bp.after_request
def _never_stored(response: Response) -> Response:
    """The sandbox's payment page and the webhook's answers: never kept by a
    shared cache, nor shown again from the browser's history as they were (Back after
    paying must not offer to pay again)."""
    response.headers["Cache-Control"] = "no-store"
    return response


from app.payments import models, views  # noqa: E402,F401

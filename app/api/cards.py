"""Saved cards in the API: listed from and removed at the payment provider, as on the
website's /account/cards (app/payments/customers.py)."""

from __future__ import annotations

from flask import Response

from app.api import bp
from app.api.auth import current_api_user
from app.api.openapi import operation
from app.api.schemas import Problem
from app.api.schemas_wallet import SavedCardListOut, SavedCardOut
from app.core.errors import problem
from app.extensions import limiter
from app.payments.customers import CardNotFound, remove_card, saved_cards
from app.payments.types import UNAVAILABLE_MESSAGE, PaymentError


def _unavailable() -> Response:
    response = problem(503, UNAVAILABLE_MESSAGE, code="payments-unavailable")
    response.headers["Retry-After"] = "60"
    return response


@operation(
    bp,
    "GET",
    "/me/cards",
    summary="Your saved cards",
    description='Cards saved at the payment provider when you ticked "save my payment '
    'details" at checkout; brand, last four digits and expiry only. 503 while the provider '
    "cannot be asked.",
    responses={200: SavedCardListOut, 503: Problem},
    auth=True,
    tags=["account"],
)
def cards_list() -> SavedCardListOut | Response:
    listed = saved_cards(current_api_user().id)
    if listed.unavailable:
        return _unavailable()
    return SavedCardListOut(
        items=[
            SavedCardOut(
                id=c.id, brand=c.brand, last4=c.last4, exp_month=c.exp_month, exp_year=c.exp_year
            )
            for c in listed.cards
        ]
    )


@operation(
    bp,
    "DELETE",
    "/me/cards/<card_id>",
    summary="Remove a saved card",
    description="404 when it is not one of your cards (or was removed already).",
    responses={204: None, 404: Problem, 503: Problem},
    auth=True,
    tags=["account"],
)
@limiter.limit("20 per minute", override_defaults=False)
def cards_remove(card_id: str) -> Response:
    try:
        remove_card(current_api_user().id, card_id[:64])
    except CardNotFound:
        return problem(404, "You have no saved card with that id.", code="not-found")
    except PaymentError:
        return _unavailable()
    return Response(status=204)

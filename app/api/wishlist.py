"""The signed-in shopper's wishlist: the same services as the website's."""

from __future__ import annotations

from datetime import datetime

from flask import Response, jsonify
from pydantic import BaseModel, Field

from app.api import bp
from app.api.auth import current_api_user
from app.api.catalog import _card
from app.api.openapi import operation
from app.api.schemas import Problem, ProductCardOut
from app.core.errors import problem
from app.wishlists import services
from app.wishlists.services import WishlistError

TAGS = ["wishlist"]


class WishlistItemOut(BaseModel):
    product: ProductCardOut
    saved_at: datetime


class WishlistOut(BaseModel):
    items: list[WishlistItemOut] = Field(description="Newest first.")
    max_items: int


def _out() -> Response:
    user = current_api_user()
    body = WishlistOut(
        items=[
            WishlistItemOut(product=_card(item.product), saved_at=item.created_at)
            for item in services.items(user.id)
        ],
        max_items=services.MAX_ITEMS,
    )
    response = jsonify(body.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    bp,
    "GET",
    "/wishlist",
    summary="Your wishlist",
    responses={200: WishlistOut, 401: Problem},
    auth=True,
    tags=TAGS,
)
def get_wishlist() -> Response:
    return _out()


@operation(
    bp,
    "PUT",
    "/wishlist/<int:product_id>",
    summary="Save a product to your wishlist (saving it again changes nothing)",
    description="A product that is not sold is a 404; a full wishlist (200) is a 409.",
    responses={200: WishlistOut, 401: Problem, 404: Problem, 409: Problem},
    auth=True,
    tags=TAGS,
)
def save_to_wishlist(product_id: int) -> Response:
    try:
        services.save(current_api_user().id, product_id)
    except WishlistError as exc:
        status = 404 if exc.code == "product-not-found" else 409
        return problem(status, str(exc), code=exc.code)
    return _out()


@operation(
    bp,
    "DELETE",
    "/wishlist/<int:product_id>",
    summary="Take a product off your wishlist",
    responses={200: WishlistOut, 401: Problem},
    auth=True,
    tags=TAGS,
)
def remove_from_wishlist(product_id: int) -> Response:
    services.remove(current_api_user().id, product_id)
    return _out()

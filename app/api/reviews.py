"""A product's reviews, and writing one (buyers only): the website's rules."""

from __future__ import annotations

from datetime import datetime

from flask import Response, jsonify
from pydantic import BaseModel, Field

from app.api import bp
from app.api.auth import current_api_user
from app.api.openapi import operation
from app.api.schemas import Problem
from app.api.schemas_cart import Strict
from app.catalog.queries import get_published_product_or_404
from app.core.errors import problem
from app.extensions import limiter
from app.ratelimit import limiter_key
from app.reviews import services
from app.reviews.services import ReviewError

TAGS = ["reviews"]


class ReviewOut(BaseModel):
    author: str = Field(description='First name and initial, e.g. "Ada L.".')
    rating: int
    title: str
    body: str
    verified_purchase: bool
    reply: str = Field(description="The shop's public reply; empty when none.")
    created_at: datetime


class ReviewsOut(BaseModel):
    average: float | None = Field(description="Of approved reviews, one decimal; null when none.")
    count: int
    distribution: dict[str, int] = Field(description='Reviews per star: {"5": 12, ...}.')
    items: list[ReviewOut] = Field(description="The newest approved reviews (up to 20).")


class ReviewIn(Strict):
    rating: int = Field(ge=1, le=5)
    title: str = Field(default="", max_length=services.TITLE_MAX)
    body: str = Field(default="", max_length=services.BODY_MAX)


class ReviewSentOut(BaseModel):
    status: str = Field(description="`pending`: shown once staff approve it.")
    message: str


@operation(
    bp,
    "GET",
    "/products/<slug>/reviews",
    summary="A product's rating and approved reviews",
    responses={200: ReviewsOut, 404: Problem},
    tags=TAGS,
)
def product_reviews(slug: str) -> Response:
    product = get_published_product_or_404(slug)
    body = ReviewsOut(
        average=product.rating_average,
        count=product.rating_count,
        distribution={str(k): v for k, v in services.distribution(product.id).items()},
        items=[
            ReviewOut(
                author=r.author_name,
                rating=r.rating,
                title=r.title,
                body=r.body,
                verified_purchase=True,
                reply=r.staff_reply,
                created_at=r.created_at,
            )
            for r in services.approved_reviews(product.id)
        ],
    )
    return jsonify(body.model_dump(mode="json"))


@operation(
    bp,
    "POST",
    "/products/<slug>/reviews",
    summary="Review a product you bought (writing again edits your review)",
    description="Only buyers: anyone else gets 403 `review-not-bought`. The review is shown "
    "once staff approve it. At most 10 an hour.",
    body=ReviewIn,
    responses={
        202: ReviewSentOut,
        401: Problem,
        403: Problem,
        404: Problem,
        422: Problem,
        429: Problem,
    },
    auth=True,
    tags=TAGS,
)
@limiter.limit("10 per hour", key_func=limiter_key, override_defaults=False)
def write_review(slug: str, body: ReviewIn) -> Response:
    product = get_published_product_or_404(slug)
    try:
        services.write(
            current_api_user(), product, rating=body.rating, title=body.title, body=body.body
        )
    except ReviewError as exc:
        if exc.code == "review-not-bought":
            return problem(403, str(exc), code=exc.code)
        return problem(422, str(exc), code=exc.code, errors={exc.field or "body": [str(exc)]})
    response = jsonify(
        ReviewSentOut(
            status="pending",
            message=f"Thank you! Your review of {product.name} will appear once our team has "
            "read it.",
        ).model_dump(mode="json")
    )
    response.status_code = 202
    return response

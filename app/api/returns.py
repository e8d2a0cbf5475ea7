"""Returns of the signed-in customer's orders: the website's rules and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field

from app.api import bp
from app.api.auth import current_api_user
from app.api.openapi import MAX_ID, operation
from app.api.schemas import Problem
from app.api.schemas_cart import Strict
from app.core.errors import problem
from app.extensions import limiter
from app.orders.customer import own_order
from app.ratelimit import limiter_key
from app.returns import services
from app.returns.models import ReturnReason, ReturnRequest
from app.returns.services import ReturnError

TAGS = ["orders"]


class ReturnLineIn(Strict):
    line_id: int = Field(ge=1, le=MAX_ID, description="An order line's `id`.")
    quantity: int = Field(ge=1, le=1000)


class ReturnIn(Strict):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    reason: Literal[tuple(ReturnReason)]  # type: ignore[valid-type]
    comment: str = Field(default="", max_length=services.COMMENT_MAX)


class ReturnLineOut(BaseModel):
    line_id: int
    product_name: str
    quantity: int
    received: int


class ReturnOut(BaseModel):
    number: str
    status: str = Field(description="requested, approved, refused, received or refunded.")
    reason: str
    comment: str
    message: str = Field(description="The shop's message (why refused, where to send).")
    lines: list[ReturnLineOut]
    created_at: datetime


class ReturnsOut(BaseModel):
    items: list[ReturnOut]
    returnable: dict[str, int] = Field(
        description="Units each line (by id) can still be returned; empty when none."
    )
    window_closes_at: datetime | None


def _out(request: ReturnRequest) -> ReturnOut:
    return ReturnOut(
        number=request.number,
        status=request.status,
        reason=request.reason,
        comment=request.comment,
        message=request.staff_message,
        lines=[
            ReturnLineOut(
                line_id=line.order_line_id,
                product_name=line.order_line.product_name,
                quantity=line.quantity,
                received=line.received,
            )
            for line in request.lines
        ],
        created_at=request.created_at,
    )


def _not_found() -> Response:
    return problem(404, "There is no such order in your account.", code="order-not-found")


@operation(
    bp,
    "GET",
    "/orders/<number>/returns",
    summary="The order's returns, and what can still be returned",
    responses={200: ReturnsOut, 401: Problem, 404: Problem},
    auth=True,
    tags=TAGS,
)
def order_returns(number: str) -> Response:
    order = own_order(number, current_api_user().id)
    if order is None:
        return _not_found()
    body = ReturnsOut(
        items=[_out(r) for r in services.requests_of(order)],
        returnable={str(k): v for k, v in services.returnable(order).items()},
        window_closes_at=services.window_end(order),
    )
    response = jsonify(body.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@operation(
    bp,
    "POST",
    "/orders/<number>/returns",
    summary="Ask to return lines of a delivered order",
    description="Within the shop's return window after delivery (409 `return-not-allowed` "
    "otherwise); at most what was bought less what was refunded or is being returned (422).",
    body=ReturnIn,
    responses={
        201: ReturnOut,
        401: Problem,
        404: Problem,
        409: Problem,
        422: Problem,
        429: Problem,
    },
    auth=True,
    tags=TAGS,
)
@limiter.limit("10 per hour", key_func=limiter_key, override_defaults=False)
def request_return(number: str, body: ReturnIn) -> Response:
    user = current_api_user()
    order = own_order(number, user.id)
    if order is None:
        return _not_found()
    wanted: dict[int, int] = {}
    for line in body.lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    try:
        made = services.request_return(
            order, wanted, reason=body.reason, comment=body.comment, actor_id=user.id
        )
    except ReturnError as exc:
        if exc.field:
            return problem(422, str(exc), code=exc.code, errors={exc.field: [str(exc)]})
        return problem(409, str(exc), code=exc.code)
    response = jsonify(_out(made).model_dump(mode="json"))
    response.status_code = 201
    return response

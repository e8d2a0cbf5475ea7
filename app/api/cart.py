"""Cart resources for the signed-in user (or a guest by X-Cart-Token): the same services
and messages as the website.

* With ``Authorization: Bearer …`` the cart is the user's own; ``X-Cart-Token`` is ignored.
* Without it, the cart is the guest cart whose token is sent in ``X-Cart-Token``. The token
  is the one the website keeps in its session cookie (256 random bits, made by the server);
  an unknown or expired token is treated as no cart, and the first change makes a new one
  whose token comes back in ``cart_token`` (and the ``X-Cart-Token`` response header).
* Line and saved-item ids of anybody else's cart are 404s.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel

from app.accounts.models import User
from app.api import bp
from app.api.auth import authenticate_request, current_api_user
from app.api.catalog import image_out
from app.api.openapi import operation, shop_problem
from app.api.schemas import DiscountOut, Problem
from app.api.schemas_cart import (
    AddItemIn,
    CartLineOut,
    CartOut,
    CodeIn,
    SavedItemOut,
    SetQuantityIn,
)
from app.cart.models import Cart
from app.cart.queries import build_cart_view
from app.cart.services import (
    CartError,
    add_item,
    apply_code,
    clear_cart,
    find_cart,
    get_or_create_cart,
    move_to_cart,
    new_guest_token,
    remove_code,
    remove_line,
    remove_saved,
    save_for_later,
    set_quantity,
)
from app.core.errors import problem
from app.extensions import limiter
from app.promotions.services import PromotionError
from app.ratelimit import VOUCHER_LIMIT, VOUCHER_SCOPE, limiter_key

CART_TOKEN_HEADER = "X-Cart-Token"  # noqa: S105 - a header name, not a secret
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_OWNER_HELP = (
    "Signed in: send `Authorization: Bearer <access token>`. Guests: send the `X-Cart-Token` "
    "header from an earlier cart response instead."
)


@dataclass(frozen=True)
class Owner:
    """Who the request acts for: a signed-in user, or a guest holding a cart token."""

    user: User | None
    token: str | None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


def resolve_owner() -> Owner | Response:
    """The bearer user when an Authorization header is sent (a bad one is a 401, never a
    silent fall back to guest), else the guest's cart token when it has a token's shape."""
    if "Authorization" in request.headers:
        failure = authenticate_request()
        if failure is not None:
            return failure
        return Owner(current_api_user(), None)
    raw = request.headers.get(CART_TOKEN_HEADER, "")
    return Owner(None, raw if _TOKEN_SHAPE.fullmatch(raw) else None)


def guest_cart_from_header() -> Cart | None:
    """The guest cart named by X-Cart-Token (for login, which merges it)."""
    raw = request.headers.get(CART_TOKEN_HEADER, "")
    return find_cart(user_id=None, token=raw) if _TOKEN_SHAPE.fullmatch(raw) else None


def owner_cart(owner: Owner, *, lock: bool = False) -> Cart | None:
    if owner.user_id is None and owner.token is None:
        return None
    return find_cart(user_id=owner.user_id, token=owner.token, lock=lock)


def owner_cart_for_change(owner: Owner) -> tuple[Cart, bool]:
    """The owner's cart, made when there is none yet; ``(cart, created)``."""
    if owner.user_id is not None:
        existing = find_cart(user_id=owner.user_id, token=None)
        if existing is not None:
            return existing, False
        return get_or_create_cart(user_id=owner.user_id, token=None, new=True), True
    cart = owner_cart(owner)
    if cart is not None:
        return cart, False
    # Never a token the client chose: a fresh random one, returned in the response.
    return get_or_create_cart(user_id=None, token=new_guest_token(), new=True), True


def discount_out(discount: Any) -> DiscountOut:
    """A discount line of a cart, quote or order (each has name, code, target, amount)."""
    return DiscountOut(
        name=discount.name,
        code=discount.code or None,
        target=discount.target,
        amount=discount.amount,
    )


def cart_out(cart: Cart | None, messages: list[str] | None = None) -> CartOut:
    view = build_cart_view(cart)
    cfg = current_app.config
    lines = []
    for lv in view.lines:
        variant = lv.line.variant
        image = variant.product.primary_image
        lines.append(
            CartLineOut(
                id=lv.line.id,
                variant_id=variant.id,
                product_slug=variant.product.slug,
                product_name=variant.product.name,
                variant_options=variant.options_label,
                sku=variant.sku,
                image=image_out(image) if image is not None else None,
                quantity=lv.line.quantity,
                unit_price=lv.unit_price,
                line_total=lv.line_total,
                price_was=lv.price_was,
                available=lv.available,
                problem=lv.problem,
            )
        )
    saved = []
    for item in view.saved:
        variant = item.variant
        image = variant.product.primary_image
        saved.append(
            SavedItemOut(
                id=item.id,
                variant_id=variant.id,
                product_slug=variant.product.slug,
                product_name=variant.product.name,
                variant_options=variant.options_label,
                sku=variant.sku,
                image=image_out(image) if image is not None else None,
                price=variant.price,
                in_stock=variant.is_available,
            )
        )
    return CartOut(
        cart_token=cart.token if cart is not None and cart.user_id is None else None,
        currency=view.currency,
        lines=lines,
        saved=saved,
        subtotal=view.subtotal,
        code=cart.voucher_code if cart is not None else None,
        code_problem=view.deal.code_problem or None,
        discounts=[
            discount_out(d) for d in (*view.deal.items, *filter(None, [view.deal.free_shipping]))
        ],
        discount=view.discount,
        after_discounts=view.after_discounts,
        item_count=view.item_count,
        max_quantity=cfg["CART_MAX_QUANTITY"],
        max_lines=cfg["CART_MAX_LINES"],
        can_check_out=view.can_check_out,
        messages=list(messages or []),
    )


def cart_response(cart: Cart | None, messages: list[str] | None = None, status: int = 200):
    body = cart_out(cart, messages)
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if body.cart_token:
        response.headers[CART_TOKEN_HEADER] = body.cart_token
    return response


_NOT_FOUND = {"line": "line in your cart", "saved-item": "item in your saved-for-later list"}


def _not_found(what: str) -> Response:
    return problem(404, f"There is no such {_NOT_FOUND[what]}.", code=f"{what}-not-found")


CART_RESPONSES: dict[int, type[BaseModel] | None] = {200: CartOut, 401: Problem}


# Every cart operation: signed in (bearer) or a guest's cart by X-Cart-Token.
CART_OPERATION: dict[str, Any] = {"tags": ["cart"], "cart_token": True, "optional_auth": True}


@operation(
    bp,
    "GET",
    "/cart",
    summary="The cart: lines at today's prices, saved items, totals",
    description=_OWNER_HELP + " With neither, the answer is an empty cart.",
    responses=CART_RESPONSES,
    **CART_OPERATION,
)
def get_cart() -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    return cart_response(owner_cart(owner))


@operation(
    bp,
    "POST",
    "/cart",
    summary="Start a cart (guests get their cart token)",
    description=_OWNER_HELP
    + " Answers 201 with a new cart, or 200 with the cart the caller already has.",
    responses={200: CartOut, 201: CartOut, 401: Problem},
    **CART_OPERATION,
)
def create_cart() -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart, created = owner_cart_for_change(owner)
    return cart_response(cart, status=201 if created else 200)


@operation(
    bp,
    "DELETE",
    "/cart",
    summary="Empty the cart (saved items stay)",
    description=_OWNER_HELP,
    responses=CART_RESPONSES,
    **CART_OPERATION,
)
def empty_cart() -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart = owner_cart(owner)
    if cart is not None:
        clear_cart(cart)
    return cart_response(cart)


@operation(
    bp,
    "POST",
    "/cart/items",
    summary="Add a variant (or add to its line)",
    description=_OWNER_HELP
    + " Quantities above the per-line limit or the stock left are lowered, and `messages` "
    "says so. An unavailable or sold-out variant is a 422 (errors.variant_id); a cart "
    "already holding the most different items is a 409 (cart-full).",
    body=AddItemIn,
    responses={200: CartOut, 401: Problem, 409: Problem, 422: Problem},
    **CART_OPERATION,
)
def add_cart_item(body: AddItemIn) -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart, _ = owner_cart_for_change(owner)
    try:
        change = add_item(cart, body.variant_id, body.quantity)
    except CartError as exc:
        return shop_problem(exc)
    return cart_response(cart, change.messages)


def _item_operation(
    item_id: int,
    action: Callable[[Cart], list[str]],
    what: str,
    *,
    field: str | None = None,
) -> Response:
    """Act on one line or saved item of the caller's own cart; any other id is a 404 (the
    range check keeps ids the database cannot hold away from it)."""
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart = owner_cart(owner)
    if cart is None:
        return _not_found(what)
    try:
        messages = action(cart)
    except LookupError:
        return _not_found(what)
    except CartError as exc:  # the service's field names an input of this request only via `field`
        if field is None:
            return problem(exc.status, str(exc), code=exc.code)
        return shop_problem(exc, field=field)
    return cart_response(cart, messages)


@operation(
    bp,
    "PATCH",
    "/cart/items/<int:line_id>",
    summary="Change a line's quantity (0 removes it)",
    description=_OWNER_HELP + " More than the stock left is lowered to it (see `messages`); "
    "a sold-out line is a 422 (errors.quantity).",
    body=SetQuantityIn,
    responses={200: CartOut, 401: Problem, 404: Problem, 422: Problem},
    **CART_OPERATION,
)
def update_cart_item(line_id: int, body: SetQuantityIn) -> Response:
    def apply(cart: Cart) -> list[str]:
        if body.quantity == 0:
            remove_line(cart, line_id)
            return []
        return set_quantity(cart, line_id, body.quantity).messages

    return _item_operation(line_id, apply, "line", field="quantity")


@operation(
    bp,
    "DELETE",
    "/cart/items/<int:line_id>",
    summary="Remove a line",
    description=_OWNER_HELP,
    responses={200: CartOut, 401: Problem, 404: Problem},
    **CART_OPERATION,
)
def remove_cart_item(line_id: int) -> Response:
    def apply(cart: Cart) -> list[str]:
        remove_line(cart, line_id)
        return []

    return _item_operation(line_id, apply, "line")


@operation(
    bp,
    "POST",
    "/cart/items/<int:line_id>/save-for-later",
    summary="Move a line to the saved-for-later list",
    description=_OWNER_HELP,
    responses={200: CartOut, 401: Problem, 404: Problem},
    **CART_OPERATION,
)
def save_cart_item(line_id: int) -> Response:
    def apply(cart: Cart) -> list[str]:
        save_for_later(cart, line_id)
        return []

    return _item_operation(line_id, apply, "line")


@operation(
    bp,
    "POST",
    "/cart/saved/<int:saved_id>/move-to-cart",
    summary="Move a saved item back into the cart (one unit)",
    description=_OWNER_HELP + " A saved item that cannot be bought now is a 409 and stays "
    "saved: `out-of-stock`, `variant-unavailable` (no longer sold) or `cart-full`.",
    responses={200: CartOut, 401: Problem, 404: Problem, 409: Problem},
    **CART_OPERATION,
)
def move_saved_item(saved_id: int) -> Response:
    return _item_operation(
        saved_id, lambda cart: move_to_cart(cart, saved_id).messages, "saved-item"
    )


@operation(
    bp,
    "DELETE",
    "/cart/saved/<int:saved_id>",
    summary="Delete a saved item",
    description=_OWNER_HELP,
    responses={200: CartOut, 401: Problem, 404: Problem},
    **CART_OPERATION,
)
def delete_saved_item(saved_id: int) -> Response:
    def apply(cart: Cart) -> list[str]:
        remove_saved(cart, saved_id)
        return []

    return _item_operation(saved_id, apply, "saved-item")


@operation(
    bp,
    "PUT",
    "/cart/code",
    summary="Apply a voucher code (one per cart; it replaces the one there)",
    description=_OWNER_HELP
    + " A code that gives this cart nothing now is a 422 whose `code` says why "
    "(`voucher-invalid`: unknown, not for these items, or a minimum spend not met; "
    "`voucher-expired`; `voucher-not-started`; `voucher-used-up`; `voucher-used-by-customer`) "
    "and `errors.code` says it in the shopper's words. Tries are rate limited per client "
    "together with the website (10 a minute, 60 an hour): codes must not be guessable.",
    body=CodeIn,
    responses={200: CartOut, 401: Problem, 422: Problem, 429: Problem},
    **CART_OPERATION,
)
@limiter.shared_limit(VOUCHER_LIMIT, VOUCHER_SCOPE, key_func=limiter_key, override_defaults=False)
def apply_cart_code(body: CodeIn) -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart = owner_cart(owner)
    try:
        if cart is None:
            raise PromotionError("Add something to your cart before entering a code.", field="code")
        code, replaced = apply_code(cart, body.code)
    except PromotionError as exc:
        return problem(422, str(exc), code=exc.code, errors={"code": [str(exc)]})
    messages = [f"It replaces the code {replaced} (one code per order)."] if replaced else []
    return cart_response(cart, messages)


@operation(
    bp,
    "DELETE",
    "/cart/code",
    summary="Remove the cart's voucher code",
    description=_OWNER_HELP,
    responses=CART_RESPONSES,
    **CART_OPERATION,
)
def remove_cart_code() -> Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    cart = owner_cart(owner)
    if cart is not None:
        remove_code(cart)
    return cart_response(cart)

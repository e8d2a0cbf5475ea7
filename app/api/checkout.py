"""Checkout resources: addresses and shipping method, the server-computed summary, the Stripe
Checkout Session URL (the order status to poll is in :mod:`app.api.orders`).

The website's flow and rules, step for step: details (validated as the checkout form does,
guests included) → summary (the server's quote from catalog prices) → session (place the
order, reserving stock, then create the provider's Checkout Session). The details live in
:class:`ApiCheckout`, one row per cart, because the API has no session cookie.

Retrying ``POST /checkout/session`` is safe: while the cart's newest unpaid order still
matches the cart and details exactly (lines, prices, totals, addresses, email, method) and
its reservation has time left, the same order and its open session come back
(``reused: true``). Anything else cancels that order (releasing its stock and expiring its
session, as the website does for a new payment attempt) and places a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, url_for

from app.accounts.models import Address
from app.accounts.profile import countries
from app.api import bp
from app.api.cart import Owner, in_id_range, owner_cart, resolve_owner
from app.api.models_checkout import ApiCheckout
from app.api.openapi import operation, validation_problem
from app.api.schemas import Problem
from app.api.schemas_cart import (
    CheckoutAddressIn,
    CheckoutAddressOut,
    CheckoutDetailsIn,
    CheckoutOut,
    CheckoutSessionOut,
    ShippingMethodOut,
    ShippingMethodsOut,
    ShippingMethodsQuery,
    SummaryLineOut,
)
from app.cart.models import Cart
from app.cart.services import CartView, build_cart_view
from app.checkout.forms import ADDRESS_KEYS
from app.core.errors import problem
from app.db import commit_unit_of_work, utcnow
from app.extensions import db
from app.orders.models import Order, OrderStatus, ShippingMethod
from app.orders.pricing import Quote, build_quote, methods_for, shipping_cost
from app.orders.services import CheckoutError, cancel_unpaid, place_order, placed_from
from app.payments import provider
from app.payments.fulfilment import expire_open_sessions, start_payment
from app.payments.stripe_gateway import PaymentRejected, PaymentsUnavailable

REQUIRED = "This field is required."  # the website's words (app.checkout.forms)
NOT_A_CHOICE = "Not a valid choice."
REUSE_MARGIN = timedelta(minutes=5)  # a reservation about to lapse is not handed out again
_OWNER_HELP = (
    "Signed-in users send their bearer token; guests (allowed, as on the website) send "
    "`X-Cart-Token` instead."
)


@dataclass(frozen=True)
class Ready:
    """A cart that can be paid for: its view, the saved details and the server's quote."""

    cart: Cart
    view: CartView
    details: ApiCheckout
    quote: Quote


def _country_codes() -> set[str]:
    return {code for code, _ in countries()}


def _method(code: str | None, country: str) -> ShippingMethod | None:
    return next((m for m in methods_for(country) if m.code == code), None)


def _items(view: CartView) -> list[dict[str, Any]]:
    """What app.checkout.views._cart_items gives build_quote: catalog prices only."""
    return [
        {
            "variant_id": lv.line.variant_id,
            "product_name": lv.line.variant.product.name,
            "variant_options": lv.line.variant.options_label,
            "sku": lv.line.variant.sku,
            "unit_price": lv.unit_price,
            "quantity": lv.line.quantity,
        }
        for lv in view.lines
    ]


def _book_address(owner: Owner, address_id: int) -> dict[str, str] | None:
    """An address of the caller's own address book (anybody else's does not exist)."""
    if owner.user_id is None or not in_id_range(address_id):
        return None
    address = db.session.execute(
        sa.select(Address).where(Address.id == address_id, Address.user_id == owner.user_id)
    ).scalar_one_or_none()
    if address is None:
        return None
    return {key: (getattr(address, key) or "").strip() for key in ADDRESS_KEYS}


def _typed_address(address: CheckoutAddressIn) -> dict[str, str]:
    data = address.model_dump()
    data["country"] = data["country"].upper()
    return {key: data.get(key, "") for key in ADDRESS_KEYS}


def _resolve_address(
    owner: Owner,
    typed: CheckoutAddressIn | None,
    book_id: int | None,
    name: str,
    errors: dict[str, list[str]],
) -> dict[str, str] | None:
    if typed is not None and book_id is not None:
        errors.setdefault(name, []).append(f"Send {name} or {name}_id, not both.")
        return None
    if book_id is not None:
        address = _book_address(owner, book_id)
        if address is None:
            errors.setdefault(f"{name}_id", []).append(
                "There is no such address in your address book."
            )
        return address
    if typed is None:
        return None
    address = _typed_address(typed)
    if address["country"] not in _country_codes():
        errors.setdefault(f"{name}.country", []).append(NOT_A_CHOICE)
        return None
    return address


def address_out(address: dict[str, Any]) -> CheckoutAddressOut:
    return CheckoutAddressOut(**{key: str(address.get(key) or "") for key in ADDRESS_KEYS})


def _cart_problem(view: CartView) -> Response | None:
    if not view.lines:
        return problem(409, "Your cart is empty.", code="cart-empty")
    if not view.can_check_out:
        return problem(
            409,
            "Some items in your cart need your attention first.",
            code="cart-needs-attention",
        )
    return None


def _details_for(cart: Cart) -> ApiCheckout | None:
    return db.session.execute(
        sa.select(ApiCheckout).where(ApiCheckout.cart_id == cart.id)
    ).scalar_one_or_none()


def _ready(owner: Owner) -> Ready | Response:
    cart = owner_cart(owner)
    view = build_cart_view(cart)
    failure = _cart_problem(view)
    if failure is not None:
        return failure
    assert cart is not None
    details = _details_for(cart)
    if details is None:
        return problem(
            409,
            "Set the addresses and shipping method first (PUT /api/v1/checkout/details).",
            code="checkout-details-missing",
        )
    country = details.shipping_address["country"]
    method = _method(details.shipping_method, country)
    if method is None:
        return problem(
            409,
            "We do not deliver there with that option any more; choose another.",
            code="shipping-method-unavailable",
        )
    quote = build_quote(
        _items(view),
        currency=view.currency,
        country=country,
        region=details.shipping_address.get("region", ""),
        method=method,
    )
    return Ready(cart, view, details, quote)


def _checkout_out(ready: Ready) -> CheckoutOut:
    details, quote = ready.details, ready.quote
    return CheckoutOut(
        email=details.email,
        shipping_address=address_out(details.shipping_address),
        billing_address=address_out(details.billing_address or details.shipping_address),
        shipping_method=details.shipping_method,
        shipping_method_name=quote.shipping_method,
        currency=quote.currency,
        lines=[SummaryLineOut.model_validate(line, from_attributes=True) for line in quote.lines],
        subtotal=quote.subtotal,
        shipping=quote.shipping,
        tax=quote.tax,
        tax_inclusive=quote.tax_inclusive,
        tax_name=quote.tax_name,
        discount=quote.discount,
        total=quote.total,
    )


@operation(
    bp,
    "GET",
    "/checkout/shipping-methods",
    summary="Delivery options for a country, priced for the cart as it is",
    description=_OWNER_HELP,
    query=ShippingMethodsQuery,
    responses={200: ShippingMethodsOut, 401: Problem, 422: Problem},
    tags=["checkout"],
    cart_token=True,
    optional_auth=True,
)
def shipping_methods(query: ShippingMethodsQuery) -> ShippingMethodsOut | Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    country = query.country.upper()
    if country not in _country_codes():
        return validation_problem({"country": [NOT_A_CHOICE]})
    view = build_cart_view(owner_cart(owner))
    return ShippingMethodsOut(
        country=country,
        items=[
            ShippingMethodOut(
                code=m.code,
                name=m.name,
                delivery_days=m.delivery_days,
                price=m.price,
                free_over=m.free_over,
                cost=shipping_cost(m, view.subtotal),
                currency=m.currency,
            )
            for m in methods_for(country)
        ],
    )


@operation(
    bp,
    "PUT",
    "/checkout/details",
    summary="Set the email, addresses and shipping method; answers with the summary",
    description=_OWNER_HELP
    + " Addresses are typed in (`shipping_address`) or taken from the address book "
    "(`shipping_address_id`, signed-in users). The same checks as the website's checkout "
    "form give a 422 with field errors; an empty cart, or one with lines that need "
    "attention, a 409.",
    body=CheckoutDetailsIn,
    responses={200: CheckoutOut, 401: Problem, 409: Problem, 422: Problem},
    tags=["checkout"],
    cart_token=True,
    optional_auth=True,
)
def set_details(body: CheckoutDetailsIn) -> CheckoutOut | Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    errors: dict[str, list[str]] = {}
    email = str(body.email).strip().lower() if body.email else ""
    if not email and owner.user is not None:
        email = owner.user.email
    if not email:
        errors["email"] = ["Enter your email address."]
    shipping = _resolve_address(
        owner, body.shipping_address, body.shipping_address_id, "shipping_address", errors
    )
    if shipping is None and not any(k.startswith("shipping_address") for k in errors):
        errors["shipping_address"] = [REQUIRED]
    billing = None
    if not body.billing_same_as_shipping:
        billing = _resolve_address(
            owner, body.billing_address, body.billing_address_id, "billing_address", errors
        )
        if billing is None and not any(k.startswith("billing_address") for k in errors):
            errors["billing_address"] = ["Enter the billing address, or tick “same as shipping”."]
    if shipping is not None and _method(body.shipping_method, shipping["country"]) is None:
        errors["shipping_method"] = ["We do not deliver there with that option."]
    if errors:
        return validation_problem(errors)
    assert shipping is not None
    cart = owner_cart(owner)
    failure = _cart_problem(build_cart_view(cart))
    if failure is not None:
        return failure
    assert cart is not None
    details = _details_for(cart)
    if details is None:
        details = ApiCheckout(cart_id=cart.id)
        db.session.add(details)
    details.email = email
    details.shipping_address = shipping
    details.billing_address = billing
    details.shipping_method = body.shipping_method
    details.updated_at = utcnow()
    db.session.flush()
    ready = _ready(owner)
    if isinstance(ready, Response):
        return ready
    return _checkout_out(ready)


@operation(
    bp,
    "GET",
    "/checkout/summary",
    summary="The server's quote: lines, delivery, tax and total",
    description=_OWNER_HELP
    + " Computed now from catalog prices and the saved details. 409 when the cart is "
    "empty or needs attention, or the details are missing or no longer deliverable.",
    responses={200: CheckoutOut, 401: Problem, 409: Problem},
    tags=["checkout"],
    cart_token=True,
    optional_auth=True,
)
def summary() -> CheckoutOut | Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    ready = _ready(owner)
    if isinstance(ready, Response):
        return ready
    return _checkout_out(ready)


def _pending_orders(ready: Ready) -> list[Order]:
    return list(
        db.session.execute(
            sa.select(Order)
            .where(
                placed_from(ready.cart),
                Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED]),
            )
            .order_by(Order.id.desc())
        ).scalars()
    )


def _matches(order: Order, ready: Ready) -> bool:
    """Exactly what a new order would be, with time left on its reservation."""
    details, quote = ready.details, ready.quote
    expires = order.reservation_expires_at
    return (
        order.status == OrderStatus.PENDING_PAYMENT
        and expires is not None
        and expires > utcnow() + REUSE_MARGIN
        and order.email == details.email
        and order.currency == quote.currency
        and (order.subtotal, order.shipping, order.tax, order.total)
        == (quote.subtotal, quote.shipping, quote.tax, quote.total)
        and order.shipping_method == quote.shipping_method
        and order.shipping_address == details.shipping_address
        and order.billing_address == (details.billing_address or details.shipping_address)
        and sorted((ln.variant_id, ln.quantity, ln.unit_price) for ln in order.lines)
        == sorted((ln.variant_id, ln.quantity, ln.unit_price) for ln in quote.lines)
    )


def _live_session_url(order: Order) -> str | None:
    """The URL of the order's current session while it can be paid, or was just paid and
    the event is on its way (a new session then could take the money twice)."""
    for payment in sorted(order.payments, key=lambda p: p.id, reverse=True):
        if payment.status != "pending":
            continue
        try:
            session = provider.retrieve_checkout_session(payment.session_id)
        except (PaymentsUnavailable, PaymentRejected):
            return None
        return session.url if session.status in ("open", "complete") else None
    return None


def _payments_unavailable(exc: Exception) -> Response:
    response = problem(
        503,
        str(exc)
        or "Payments are unavailable right now. Your cart and order are kept; please try "
        "again in a few minutes.",
        code="payments-unavailable",
        title="Service unavailable",
    )
    response.headers["Retry-After"] = "30"
    return response


@operation(
    bp,
    "POST",
    "/checkout/session",
    summary="Place the order and create its Checkout Session; open checkout_url to pay",
    description=_OWNER_HELP
    + " Safe to retry: an identical retry answers 200 with the same order and session "
    "(`reused`); after any change to the cart or details the older unpaid order is "
    "cancelled and a new one placed (201). Then poll GET /api/v1/orders/{number}/status. "
    "409 when the cart or details are not ready or stock ran out; 503 (Retry-After) when "
    "the payment provider is unavailable (the order is kept and a retry reuses it).",
    responses={
        200: CheckoutSessionOut,
        201: CheckoutSessionOut,
        401: Problem,
        409: Problem,
        503: Problem,
    },
    tags=["checkout"],
    cart_token=True,
    optional_auth=True,
)
def create_session() -> tuple[CheckoutSessionOut, int] | Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    _lock_cart(owner)
    ready = _ready(owner)
    if isinstance(ready, Response):
        return ready
    order = None
    for pending in _pending_orders(ready):
        if order is None and _matches(pending, ready):
            order = pending
            continue
        # As the website does for a new payment attempt: the old tab can no longer pay.
        if cancel_unpaid(pending, note="replaced by a new payment attempt"):
            expire_open_sessions(pending)
    if order is None:
        try:
            order = place_order(
                ready.quote,
                email=ready.details.email,
                user_id=owner.user_id,
                cart_id=ready.cart.id,
                shipping_address=ready.details.shipping_address,
                billing_address=ready.details.billing_address or ready.details.shipping_address,
            )
        except CheckoutError as exc:
            return problem(409, str(exc), code="insufficient-stock")
        commit_unit_of_work()  # the order and its reservation exist before we call the provider
        # A double tap waited for the lock above and now finds this order: lock again, so
        # only one of the two creates its session and the other gets that one back.
        _lock_cart(owner)
        db.session.refresh(order)
        if order.status != OrderStatus.PENDING_PAYMENT:
            return problem(
                409,
                "Your cart changed while the payment was being prepared; please try again.",
                code="checkout-changed",
            )
    url = _live_session_url(order)
    if url is not None:
        return _session_out(order, url, reused=True), 200
    try:
        payment = start_payment(
            order,
            success_url=url_for("checkout.success", _external=True)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=url_for("checkout.cancelled", order=order.number, _external=True),
        )
        url = provider.retrieve_checkout_session(payment.session_id).url
    except (PaymentsUnavailable, PaymentRejected) as exc:
        return _payments_unavailable(exc)
    commit_unit_of_work()
    return _session_out(order, url, reused=False), 201


def _lock_cart(owner: Owner) -> None:
    """Serialise checkouts of one cart (PostgreSQL; SQLite's writers already queue)."""
    cart = owner_cart(owner)
    if cart is not None and db.engine.dialect.name == "postgresql":
        db.session.execute(sa.select(Cart.id).where(Cart.id == cart.id).with_for_update())


def _session_out(order: Order, url: str, *, reused: bool) -> CheckoutSessionOut:
    return CheckoutSessionOut(
        order_number=order.number, checkout_url=url, status=order.status, reused=reused
    )

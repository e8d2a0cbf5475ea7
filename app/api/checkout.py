"""Checkout resources: addresses and shipping method, the server-computed summary, the Stripe
Checkout Session URL (the order status to poll is in :mod:`app.api.orders`).

The website's checkout, through its other door: each handler parses the request, calls the
checkout service the website's views call (app/checkout/services.py, details.py) and renders.
The details are the cart's own record, the same one the website's form fills.

Retrying ``POST /checkout/session`` is safe: while the cart's unpaid order still matches the
cart and details exactly, the same order and its session come back (``reused: true``), also
for a retry that arrives while the first request is still waiting on Stripe. Anything else
replaces that order (its stock released and its session expired) with a new one.
"""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from app.accounts.addresses import ADDRESS_FIELDS
from app.accounts.profile import country_names
from app.api import bp
from app.api.cart import discount_out, owner_cart, resolve_owner
from app.api.openapi import operation, validation_problem
from app.api.schemas import Problem
from app.api.schemas_checkout import (
    CheckoutAddressOut,
    CheckoutDetailsIn,
    CheckoutOut,
    CheckoutSessionIn,
    CheckoutSessionOut,
    ShippingMethodOut,
    ShippingMethodsOut,
    ShippingMethodsQuery,
    SummaryLineOut,
)
from app.cart.queries import build_cart_view
from app.checkout import errors
from app.checkout.details import DetailsInput, default_country, save_details
from app.checkout.errors import CheckoutError, DetailsInvalid
from app.checkout.services import Ready, ReturnUrls, ready_to_pay, start_payment
from app.core.errors import problem
from app.orders.pricing import methods_for, shipping_cost

NOT_A_CHOICE = "Not a valid choice."
_OWNER_HELP = (
    "Signed-in users send their bearer token; guests (allowed, as on the website) send "
    "`X-Cart-Token` instead."
)


def address_out(address: dict[str, Any]) -> CheckoutAddressOut:
    return CheckoutAddressOut(**{key: str(address.get(key) or "") for key in ADDRESS_FIELDS})


def checkout_problem(exc: CheckoutError) -> Response:
    """The service's refusal as a problem: 503 (Retry-After) when payments are unavailable,
    else 409, with the service's code and words."""
    if exc.code == errors.PAYMENTS_UNAVAILABLE:
        response = problem(503, str(exc), code=exc.code, title="Service unavailable")
        response.headers["Retry-After"] = "30"
        return response
    return problem(409, str(exc), code=exc.code)


def _checkout_out(ready: Ready) -> CheckoutOut:
    details, quote = ready.details, ready.quote
    return CheckoutOut(
        email=details.email,
        shipping_address=address_out(details.shipping_address),
        billing_address=address_out(details.billing),
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
        discounts=[discount_out(d) for d in quote.discounts],
        code=quote.code or None,
        code_problem=quote.code_problem or None,
        total=quote.total,
        terms_url=url_for("pages.show", slug="terms", _external=True),
        returns_url=url_for("pages.show", slug="returns", _external=True),
        privacy_url=url_for("pages.show", slug="privacy", _external=True),
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
    country = (query.country or default_country(owner.user)).upper()
    if country not in country_names():
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
    "(`shipping_address_id`, signed-in users). The website's checkout rules give a 422 with "
    "field errors; an empty cart, or one with lines that need attention, a 409.",
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
    cart = owner_cart(owner)
    data = DetailsInput(
        email=str(body.email) if body.email else "",
        shipping_method=body.shipping_method,
        shipping=body.shipping_address.model_dump() if body.shipping_address else None,
        shipping_address_id=body.shipping_address_id,
        billing_same=body.billing_same_as_shipping,
        billing=body.billing_address.model_dump() if body.billing_address else None,
        billing_address_id=body.billing_address_id,
    )
    try:
        save_details(cart, owner.user, data)
        return _checkout_out(ready_to_pay(cart))
    except DetailsInvalid as exc:
        return validation_problem(exc.errors)
    except CheckoutError as exc:
        return checkout_problem(exc)


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
    try:
        return _checkout_out(ready_to_pay(owner_cart(owner)))
    except CheckoutError as exc:
        return checkout_problem(exc)


@operation(
    bp,
    "POST",
    "/checkout/session",
    summary="Place the order and create its Checkout Session; open checkout_url to pay",
    description=_OWNER_HELP
    + " Safe to retry: an identical retry answers 200 with the same order and session "
    "(`reused`), also while the first request is still waiting on the payment provider; "
    "after any change to the cart or details the older unpaid order is cancelled and a new "
    "one placed (201). A payment that failed is retried on the same order when nothing "
    "changed. Then poll GET /api/v1/orders/{number}/status. 409 when the cart or details "
    "are not ready, stock ran out or the cart changed meanwhile (`checkout-changed`); 422 "
    "without `accept_terms: true` (the shopper accepts the terms at terms_url first); 503 "
    "(Retry-After) when the payment provider is unavailable (the order is kept and a retry "
    "reuses it).",
    body=CheckoutSessionIn,
    responses={
        200: CheckoutSessionOut,
        201: CheckoutSessionOut,
        401: Problem,
        409: Problem,
        422: Problem,
        503: Problem,
    },
    tags=["checkout"],
    cart_token=True,
    optional_auth=True,
)
def create_session(body: CheckoutSessionIn) -> tuple[CheckoutSessionOut, int] | Response:
    owner = resolve_owner()
    if isinstance(owner, Response):
        return owner
    try:
        started = start_payment(
            lambda lock: owner_cart(owner, lock=lock),
            user_id=owner.user_id,
            urls=_return_urls(),
            accepted_terms=body.accept_terms,
        )
    except DetailsInvalid as exc:
        return validation_problem(exc.errors)
    except CheckoutError as exc:
        return checkout_problem(exc)
    out = CheckoutSessionOut(
        order_number=started.order_number,
        checkout_url=started.url,
        status="pending_payment",
        reused=started.reused,
    )
    return out, (200 if started.reused else 201)


def _return_urls() -> ReturnUrls:
    return ReturnUrls(
        success=url_for("checkout.success", _external=True) + "?session_id={CHECKOUT_SESSION_ID}",
        cancel=url_for("checkout.cancelled", _external=True),
    )

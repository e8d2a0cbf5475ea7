"""Why checkout cannot go on, with a code for programs and words for people.

The API answers ``problem(409, str(exc), code=exc.code)`` (503 for payments-unavailable);
the website shows the message and sends the shopper where ``code`` says they can fix it.
"""

from __future__ import annotations

from app.orders.services import CheckoutError

CART_EMPTY = "cart-empty"
CART_NEEDS_ATTENTION = "cart-needs-attention"
DETAILS_MISSING = "checkout-details-missing"
METHOD_UNAVAILABLE = "shipping-method-unavailable"
INSUFFICIENT_STOCK = "insufficient-stock"
CHANGED = "checkout-changed"
PAYMENTS_UNAVAILABLE = "payments-unavailable"
VOUCHER_NOT_APPLICABLE = "voucher-not-applicable"  # the cart's code gives nothing now
VOUCHER_UNAVAILABLE = "voucher-unavailable"  # used up between the quote and the order
TOTAL_TOO_SMALL = "total-too-small"  # below the smallest card payment

TERMS_REQUIRED = "Accept the terms and conditions to pay."  # a field error (accept_terms)

# Where a shopper fixes each one on the website.
FIX_IN_CART = frozenset(
    {
        CART_EMPTY,
        CART_NEEDS_ATTENTION,
        INSUFFICIENT_STOCK,
        VOUCHER_NOT_APPLICABLE,
        VOUCHER_UNAVAILABLE,
        TOTAL_TOO_SMALL,
    }
)
FIX_IN_DETAILS = frozenset({DETAILS_MISSING, METHOD_UNAVAILABLE})


class DetailsInvalid(ValueError):
    """The checkout details have problems: ``errors`` maps each field to its messages.

    Field names are the API's: ``email``, ``shipping_method``, ``shipping_address.<field>``,
    ``shipping_address_id``, ``billing_address.<field>``, ``billing_address_id``,
    ``billing_address`` (the website maps them onto its form).
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


__all__ = [
    "CART_EMPTY",
    "CART_NEEDS_ATTENTION",
    "CHANGED",
    "DETAILS_MISSING",
    "FIX_IN_CART",
    "FIX_IN_DETAILS",
    "INSUFFICIENT_STOCK",
    "METHOD_UNAVAILABLE",
    "PAYMENTS_UNAVAILABLE",
    "TERMS_REQUIRED",
    "TOTAL_TOO_SMALL",
    "VOUCHER_NOT_APPLICABLE",
    "VOUCHER_UNAVAILABLE",
    "CheckoutError",
    "DetailsInvalid",
]

"""Sample variables for every template: previews, send-test, and the template tests."""

from __future__ import annotations

from typing import Any

from app.notifications.models import Category, Channel, Notification

_ORDER = {
    "name": "Ada",
    "order_number": "SS-8K3J-Q2XF",
    "order_url": "https://shop.example/account/orders/SS-8K3J-Q2XF",
    "currency": "EUR",
}
SAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {"name": "Ada", "shop_url": "https://shop.example/"},
    "verify-email": {
        "name": "Ada",
        "email": "ada@example.com",
        "verify_url": "https://shop.example/account/verify/abc",
        "expires_hours": 24,
    },
    "password-reset": {
        "name": "Ada",
        "reset_url": "https://shop.example/account/reset/abc",
        "expires_minutes": 60,
    },
    "password-changed": {
        "name": "Ada",
        "changed_at": "4 December 2026 at 21:40 UTC",
        "reset_url": "https://shop.example/account/forgot",
    },
    "account-locked": {
        "name": "Ada",
        "attempts": 5,
        "minutes": 15,
        "reset_url": "https://shop.example/account/forgot",
    },
    "email-changed": {
        "name": "Ada",
        "old_email": "ada@example.com",
        "new_email": "ada.lovelace@example.com",
    },
    "order-confirmation": {
        **_ORDER,
        "lines": [
            {
                "name": "Merino Wool Jumper",
                "options": "size: M",
                "quantity": 1,
                "unit_price": 8900,
                "line_total": 8900,
            },
            {
                "name": "Stoneware Mug",
                "options": "",
                "quantity": 2,
                "unit_price": 1500,
                "line_total": 3000,
            },
        ],
        "subtotal": 11900,
        "discounts": [
            {"name": "Welcome 10 %", "code": "WELCOME10", "target": "items", "amount": 1190},
        ],
        "shipping": 495,
        "tax": 1861,
        "tax_inclusive": True,
        "total": 11205,
        "shipping_address": "Ada Lovelace\n12 Analytical Street\nLondon W1 1AA\nUnited Kingdom",
        "billing_address": "",
    },
    "cart-recovery": {
        "name": "Ada",
        "lines": [
            {"name": "Merino Wool Jumper", "options": "Size: M", "quantity": 1, "line_total": 8900}
        ],
        "subtotal": 8900,
        "currency": "EUR",
        "cart_url": "https://shop.example/cart/restore/abc",
    },
    "review-request": {
        "name": "Ada",
        "order_number": "SS-8K3J-Q2XF",
        "products": [
            {"name": "Merino Wool Jumper", "url": "https://shop.example/products/merino/review"}
        ],
    },
    "return-requested": {
        **_ORDER,
        "return_number": "SS-8K3J-Q2XF-R1",
        "items": [{"name": "Merino Wool Jumper", "quantity": 1}],
        "message": "",
    },
    "return-approved": {
        **_ORDER,
        "return_number": "SS-8K3J-Q2XF-R1",
        "items": [{"name": "Merino Wool Jumper", "quantity": 1}],
        "message": "The label is attached to this e-mail.",
    },
    "return-refused": {
        **_ORDER,
        "return_number": "SS-8K3J-Q2XF-R1",
        "items": [{"name": "Merino Wool Jumper", "quantity": 1}],
        "message": "Worn items cannot be returned.",
    },
    "return-received": {
        **_ORDER,
        "return_number": "SS-8K3J-Q2XF-R1",
        "items": [{"name": "Merino Wool Jumper", "quantity": 1}],
        "message": "",
    },
    "back-in-stock": {
        "product_name": "Merino Wool Jumper",
        "options": "Size: M",
        "price": 8900,
        "currency": "EUR",
        "product_url": "https://shop.example/products/merino-wool-jumper?variant=12",
    },
    "payment-failed": {
        **_ORDER,
        "reason": "the card was declined",
        "retry_url": "https://shop.example/checkout/retry/SS-8K3J-Q2XF",
    },
    "order-shipped": {
        **_ORDER,
        "carrier": "DHL",
        "tracking_number": "JD014600003828",
        "tracking_url": "https://www.dhl.com/track?id=JD014600003828",
    },
    "order-delivered": {**_ORDER},
    "order-cancelled": {**_ORDER, "refund_total": 12395},
    "refund-issued": {**_ORDER, "amount": 3000},
    "low-stock": {
        "items": [
            {
                "sku": "SS-000123-02",
                "product_name": "Merino Wool Jumper",
                "available": 2,
                "threshold": 5,
            },
            {"sku": "SS-000200-01", "product_name": "Oak Board", "available": 0, "threshold": 3},
        ],
        "more": 0,
        "admin_url": "https://shop.example/admin/inventory?low=1",
    },
    "dead-letter-alert": {"dead_count": 3},
    "payment-anomaly": {
        "order_number": "SS-8K3J-Q2XF",
        "problem": "Paid twice: another payment had already paid this order.",
        "action": "The payment of €123.95 is being refunded automatically; check the order's "
        "refunds, and contact the customer if they need the goods.",
        "admin_url": "https://shop.example/admin/orders/42",
    },
    "passkey-added": {
        "name": "Ada",
        "passkey_name": "Work laptop",
        "added_at": "06 December 2026 at 11:20 UTC",
        "passkeys_url": "https://shop.example/account/passkeys",
        "reset_url": "https://shop.example/account/forgot",
    },
    "sign-in-link": {
        "name": "Ada",
        "expires_minutes": 15,
        "sign_in_url": "https://shop.example/account/login/link/8mN2b5Q0v3K9xWcRzT1uHgLpYs7dEaFj",
    },
    "payment-dispute": {
        "order_number": "SS-8K3J-Q2XF",
        "headline": "The customer disputed €123.95 (the goods did not arrive)",
        "status": "Chargeback: needs a response",
        "due_by": "2026-12-20 00:59 CET",
        "action": "Submit evidence in Stripe's Dashboard by 2026-12-20 00:59 CET (after that "
        "the bank decides without it): the order, its delivery and your correspondence with "
        "the customer.",
        "dashboard_url": "https://dashboard.stripe.com/disputes/dp_1Pgc71B7WZ01zgkWMevJiAUx",
        "admin_url": "https://shop.example/admin/orders/42",
    },
    "newsletter": {
        "name": "Ada",
        "headline": "New in: autumn knitwear",
        "body_text": "Our merino jumpers are back, in four new colours.",
        "shop_url": "https://shop.example/",
    },
}
SAMPLE_CATEGORY = {
    "newsletter": Category.MARKETING,
    "cart-recovery": Category.MARKETING,
    "review-request": Category.MARKETING,
    "low-stock": Category.STAFF,
    "dead-letter-alert": Category.STAFF,
    "payment-anomaly": Category.STAFF,
    "payment-dispute": Category.STAFF,
}


def sample_notification(
    name: str, to: str = "ada@example.com", channel: str = Channel.EMAIL
) -> Notification:
    """An unsaved notification with sample variables, for previews."""
    return Notification(
        id=0,
        to_address=to,
        channel=channel,
        template=name,
        variables=dict(SAMPLES.get(name, {})),
        category=SAMPLE_CATEGORY.get(name, Category.TRANSACTIONAL),
    )

"""API test helpers: JSON calls and sign-in through the real endpoints."""

from __future__ import annotations

from tests.accounts.helpers import PASSWORD

TERMS = {"accept_terms": True}  # the shopper accepted the terms in the app


def api_login(client, email: str = "ada@example.com", password: str = PASSWORD, **extra):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})


def tokens(client, email: str = "ada@example.com", password: str = PASSWORD, **extra) -> dict:
    response = api_login(client, email, password, **extra)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


# -- cart, checkout and orders ------------------------------------------------------------------

CART_TOKEN = "X-Cart-Token"
SHIPPING_ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "city": "Dublin",
    "postal_code": "D02 X285",
    "country": "IE",
}


def guest(cart_token: str) -> dict[str, str]:
    return {CART_TOKEN: cart_token}


def add_item(client, variant_id: int, quantity: int = 1, headers: dict | None = None):
    return client.post(
        "/api/v1/cart/items",
        json={"variant_id": variant_id, "quantity": quantity},
        headers=headers or {},
    )


def set_details(client, headers: dict, **overrides):
    body = {"shipping_address": SHIPPING_ADDRESS, "shipping_method": "standard", **overrides}
    return client.put("/api/v1/checkout/details", json=body, headers=headers)


def start_session(client, headers: dict) -> dict:
    """Checkout Session for the cart whose details are set; {order_number, checkout_url, ...}."""
    response = client.post("/api/v1/checkout/session", json={"accept_terms": True}, headers=headers)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def pay_in_sandbox(client, checkout_url: str):
    """The shopper presses Pay on the sandbox page: a signed webhook is delivered and
    processed (Huey runs tasks immediately in tests)."""
    from tests.checkout.helpers import sandbox_action

    response = sandbox_action(client, checkout_url, "pay")
    assert response.status_code == 303, response.status_code
    return response


def seed_shopping(user) -> None:
    """A cart line, a saved item, checkout details and a paid order for ``user``, so that
    generated requests (schemathesis) meet real objects and full responses."""
    import sqlalchemy as sa

    from app.cart.services import add_item as add_to_cart
    from app.cart.services import get_or_create_cart
    from app.cart.services import save_for_later as save
    from app.catalog.models import Variant
    from app.checkout.models import CheckoutDetails
    from app.extensions import db
    from app.orders.services import commit_sale
    from tests.orders.helpers import order_for

    variants = db.session.execute(sa.select(Variant).order_by(Variant.id).limit(2)).scalars().all()
    cart = get_or_create_cart(user_id=user.id, token=None)
    for variant in variants:
        add_to_cart(cart, variant.id, 1)
    db.session.flush()
    save(cart, cart.lines[-1].id)
    db.session.add(
        CheckoutDetails(
            cart_id=cart.id,
            email=user.email,
            shipping_address={"line2": "", "region": "", **SHIPPING_ADDRESS},
            billing_address=None,
            shipping_method="standard",
        )
    )
    order = order_for([(variants[0], 1)], email=user.email)
    order.user_id = user.id
    commit_sale(order)
    db.session.flush()

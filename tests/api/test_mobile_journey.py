"""The mobile app's whole journey through the API, as its client would walk it: browse and fill
a cart as a guest, register, confirm the email, sign in (the cart comes along), check out,
pay in the sandbox's browser tab, poll until paid; then refresh-token rotation and reuse
detection end the stolen sign-in."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.catalog.models import Variant
from app.db import commit_unit_of_work
from app.notifications.models import Notification
from app.payments.models import WebhookEvent
from tests.accounts.helpers import PASSWORD, latest_link
from tests.api.helpers import CART_TOKEN, SHIPPING_ADDRESS, TERMS, bearer, guest, pay_in_sandbox
from tests.catalog import factories
from tests.checkout.helpers import path_of

EMAIL = "grace@example.com"


def test_register_to_paid_order_then_token_rotation_and_reuse(client, db):
    shirts = factories.category("Shirts")
    factories.product("Oxford Shirt", price=4500, stock=4, category=shirts)
    factories.product("Linen Shirt", price=3900, stock=0, category=shirts)
    commit_unit_of_work()

    # Browse as a guest.
    tree = client.get("/api/v1/categories").get_json()
    assert [c["slug_path"] for c in tree["items"]] == ["shirts"]
    listing = client.get("/api/v1/products?category=shirts&in_stock=1").get_json()
    assert [p["name"] for p in listing["items"]] == ["Oxford Shirt"]
    product = client.get(f"/api/v1/products/{listing['items'][0]['slug']}").get_json()
    variant_id = product["variants"][0]["id"]

    # Fill a guest cart.
    added = client.post(
        "/api/v1/cart/items", json={"variant_id": variant_id, "quantity": 2}
    ).get_json()
    cart_token = added["cart_token"]
    assert cart_token and added["subtotal"] == 9000

    # Register and confirm the email with the link it was sent.
    registered = client.post(
        "/api/v1/auth/register", json={"name": "Grace Hopper", "email": EMAIL, "password": PASSWORD}
    )
    assert registered.status_code == 201 and registered.get_json()["email_verified"] is False
    confirmed = client.get(latest_link(EMAIL, "verify-email"))
    assert confirmed.status_code == 302

    # Sign in; the guest cart becomes the account's cart.
    login = client.post(
        "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=guest(cart_token)
    )
    assert login.status_code == 200
    pair = login.get_json()
    assert pair["cart_messages"] == ["We added 1 item from before you signed in to your cart."]
    auth = bearer(pair["access_token"])
    me = client.get("/api/v1/me", headers=auth).get_json()
    assert me["email"] == EMAIL and me["email_verified"] is True
    cart = client.get("/api/v1/cart", headers=auth).get_json()
    assert [(ln["product_name"], ln["quantity"]) for ln in cart["lines"]] == [("Oxford Shirt", 2)]
    assert cart["cart_token"] is None

    # Checkout: delivery options, details, the server's summary, the session.
    methods = client.get("/api/v1/checkout/shipping-methods?country=IE", headers=auth).get_json()
    assert {m["code"]: m["cost"] for m in methods["items"]}["standard"] == 0  # free over €50
    details = client.put(
        "/api/v1/checkout/details",
        json={"shipping_address": SHIPPING_ADDRESS, "shipping_method": "standard"},
        headers=auth,
    )
    assert details.status_code == 200, details.get_json()
    summary = client.get("/api/v1/checkout/summary", headers=auth).get_json()
    assert (summary["subtotal"], summary["shipping"], summary["total"]) == (9000, 0, 9000)
    assert summary["email"] == EMAIL
    session = client.post("/api/v1/checkout/session", json=TERMS, headers=auth)
    assert session.status_code == 201
    checkout = session.get_json()
    number = checkout["order_number"]
    assert checkout["status"] == "pending_payment"

    # The app opens checkout_url in a browser tab; the shopper pays there.
    page = client.get(path_of(checkout["checkout_url"]))
    assert page.status_code == 200 and "TEST MODE" in page.get_data(as_text=True)
    returned = pay_in_sandbox(client, checkout["checkout_url"])
    assert "/checkout/success?session_id=" in returned.headers["Location"]
    event = db.session.execute(sa.select(WebhookEvent)).scalar_one()
    assert (event.type, event.status) == ("checkout.session.completed", "processed")

    # Back in the app: poll the status, then the order is in the history.
    status = client.get(f"/api/v1/orders/{number}/status", headers=auth).get_json()
    assert (status["status"], status["paid"], status["payment_status"]) == (
        "paid",
        True,
        "succeeded",
    )
    history = client.get("/api/v1/orders", headers=auth).get_json()
    assert [o["number"] for o in history["items"]] == [number]
    order = client.get(f"/api/v1/orders/{number}", headers=auth).get_json()
    assert order["total"] == 9000 and order["can_cancel"] is True
    assert [e["to_status"] for e in order["events"]] == ["pending_payment", "paid"]
    assert client.get("/api/v1/cart", headers=auth).get_json()["lines"] == []
    db.session.expire_all()
    variant = db.session.get(Variant, variant_id)
    assert (variant.stock_on_hand, variant.reserved) == (2, 0)
    mail = db.session.execute(
        sa.select(Notification).where(Notification.template == "order-confirmation")
    ).scalar_one()
    assert mail.to_address == EMAIL and mail.variables["order_number"] == number

    # Refresh rotation: each refresh token works once and gives a new pair.
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != pair["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200

    # Reuse detection: the spent token shows up again (stolen), so the whole sign-in ends.
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401 and reused.get_json()["code"] == "token-reused"
    for access in (pair["access_token"], second["access_token"]):
        response = client.get(f"/api/v1/orders/{number}/status", headers=bearer(access))
        assert response.status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refreshed.status_code == 401

    # Signing in again works, and nothing of the order was lost.
    again = client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    fresh = bearer(again.get_json()["access_token"])
    assert client.get(f"/api/v1/orders/{number}", headers=fresh).get_json()["status"] == "paid"
    user = db.session.execute(sa.select(User).where(User.email == EMAIL)).scalar_one()
    assert user.is_verified
    assert CART_TOKEN not in again.headers

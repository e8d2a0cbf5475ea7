"""Drive checkout as a browser would: cart, details form, review, pay, provider page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.extensions import db
from app.orders.models import Order

DETAILS = {
    "email": "ada@example.com",
    "shipping_full_name": "Ada Lovelace",
    "shipping_line1": "12 Analytical Street",
    "shipping_city": "Dublin",
    "shipping_postal_code": "D02 X285",
    "shipping_country": "IE",
    "billing": "same",
    "shipping_method": "standard",
}


def token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def add_to_cart(client, variant_id: int, quantity: int = 1) -> None:
    client.post(
        "/cart/add",
        data={"variant_id": variant_id, "quantity": quantity, "csrf_token": token(client, "/cart")},
    )


def submit_details(client, **overrides) -> object:
    data = {**DETAILS, **overrides, "csrf_token": token(client, "/checkout")}
    return client.post("/checkout", data=data)


def pay(client, **extra) -> object:
    return client.post(
        "/checkout/pay",
        data={"csrf_token": token(client, "/checkout/review"), "accept_terms": "y", **extra},
    )


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sandbox_action(client, session_url: str, action: str) -> object:
    page = path_of(session_url)
    return client.post(f"{page}/{action}", data={"csrf_token": token(client, page)})


def latest_order() -> Order:
    db.session.expire_all()
    return db.session.execute(sa.select(Order).order_by(Order.id.desc())).scalars().first()


def paid_sandbox_session(order, prefix: str) -> str:
    """A sandbox session the provider reports as paid, and the pending payment pointing at it
    (as if the shopper paid and the events are about to arrive)."""
    from app.payments.models import Payment, SandboxSession

    session_id = f"cs_{prefix}_{order.number}"
    db.session.add(
        SandboxSession(
            id=session_id,
            status="complete",
            payment_status="paid",
            amount_total=order.total,
            currency=order.currency.lower(),
            client_reference_id=order.number,
            metadata_={},
            line_items=[],
            success_url="x",
            cancel_url="x",
            payment_intent=f"pi_{prefix}",
            expires_at=0,
            idempotency_key=f"{prefix}-{order.number}",
        )
    )
    db.session.add(
        Payment(
            order=order,
            provider="sandbox",
            session_id=session_id,
            amount=order.total,
            currency=order.currency,
            status="pending",
        )
    )
    db.session.flush()
    return session_id

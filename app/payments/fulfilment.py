"""Turning a Checkout Session into a paid order: one idempotent function, keyed by session id.

The success page and the webhook both call it, any number of times and at the same moment;
the order is paid, stock sold, cart cleared and the confirmation sent exactly once. It trusts
only what it retrieves from the provider, never the browser.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app

from app.cart.models import CartLine
from app.db import after_commit, utcnow
from app.extensions import db
from app.notifications.models import Category
from app.notifications.rendering import external_url
from app.notifications.services import notify
from app.orders.models import Order, OrderStatus, Payment
from app.orders.services import cancel_unpaid, commit_sale
from app.orders.states import PAID_STATES, transition
from app.payments import provider

log = logging.getLogger(__name__)


def _payment_for(session_id: str, *, lock: bool = True) -> Payment | None:
    query = sa.select(Payment).where(Payment.session_id == session_id)
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return db.session.execute(query).scalar_one_or_none()


def start_payment(order: Order, *, success_url: str, cancel_url: str) -> Payment:
    """Create the provider's Checkout Session for an order (one per attempt) and record it.

    The idempotency key is derived from the order and the attempt, so a retried request after a
    timeout returns the same session instead of creating a second one.
    """
    attempt = (
        1
        + db.session.execute(
            sa.select(sa.func.count()).where(Payment.order_id == order.id)
        ).scalar_one()
    )
    expires_at = order.reservation_expires_at or utcnow()
    session = provider.create_checkout_session(
        line_items=[
            {
                "name": f"{line.product_name}"
                + (f" ({line.variant_options})" if line.variant_options else ""),
                "unit_amount": line.unit_price,
                "quantity": line.quantity,
            }
            for line in order.lines
        ]
        + (
            [
                {
                    "name": f"Shipping: {order.shipping_method}",
                    "unit_amount": order.shipping,
                    "quantity": 1,
                }
            ]
            if order.shipping
            else []
        )
        + (
            []
            if order.tax_inclusive or not order.tax
            else [{"name": "Tax", "unit_amount": order.tax, "quantity": 1}]
        ),
        currency=order.currency.lower(),
        customer_email=order.email,
        client_reference_id=order.number,
        metadata={"order_number": order.number, "attempt": str(attempt)},
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=int(max(expires_at.timestamp(), utcnow().timestamp() + 1800)),
        idempotency_key=f"checkout-{order.number}-{attempt}",
    )
    payment = Payment(
        order=order,
        provider=provider.provider_name(),
        session_id=session.id,
        attempt=attempt,
        amount=order.total,
        currency=order.currency,
        status="pending",
        failure_reason="",
        payment_intent="",
    )
    db.session.add(payment)
    db.session.flush()
    # A new attempt replaces older open sessions for the same order.
    for older in order.payments:
        if older.id != payment.id and older.status == "pending":
            older.status = "expired"
            old_id, key = older.session_id, f"expire-{older.session_id}"
            after_commit(lambda sid=old_id, k=key: _expire_quietly(sid, k))
    return payment


def _expire_quietly(session_id: str, key: str) -> None:
    try:
        provider.expire_checkout_session(session_id, idempotency_key=key)
    except Exception:  # the reservation sweeper and the session's own expiry cover this
        log.warning("could not expire checkout session %s", session_id, exc_info=True)


def fulfil_checkout_session(session_id: str) -> Order | None:
    payment = _payment_for(session_id)
    if payment is None:
        log.warning("fulfilment for unknown checkout session %s", session_id[:80])
        return None
    order = payment.order
    if payment.fulfilled_at is not None or order.status in PAID_STATES:
        return order
    session = provider.retrieve_checkout_session(session_id)
    if session.payment_status != "paid":
        return order  # still processing (or unpaid): nothing to do yet
    if session.amount_total != order.total or (session.currency or "").upper() != order.currency:
        order.needs_attention = (
            f"Paid amount {session.amount_total} {session.currency} does "
            f"not match the order total {order.total} {order.currency}."
        )
        payment.failure_reason = "amount mismatch"
        log.error("amount mismatch on %s: %s", order.number, order.needs_attention)
        _alert_staff(order)
        return order
    payment.payment_intent = session.payment_intent or ""
    if order.status == OrderStatus.CANCELLED:
        # Paid in an old tab after the order was replaced or abandoned: never fulfil twice.
        payment.status, payment.fulfilled_at = "succeeded", utcnow()
        order.needs_attention = "Paid after it was cancelled; the payment is refunded."
        _refund_whole_payment(order, payment)
        _alert_staff(order)
        return order
    outcome = commit_sale(order)
    payment.status = "succeeded"
    payment.fulfilled_at = utcnow()
    if outcome.needs_refund:
        _refund_whole_payment(order, payment)
        _alert_staff(order)
        return order
    if outcome.fulfilled:
        _clear_cart(order)
        _send_confirmation(order)
        _warn_low_stock(order)
    return order


def _warn_low_stock(order: Order) -> None:
    from app.catalog.models import Variant

    ids = [line.variant_id for line in order.lines if line.variant_id is not None]
    low = (
        db.session.execute(
            sa.select(Variant).where(
                Variant.id.in_(ids),
                Variant.track_inventory.is_(True),
                Variant.stock_on_hand - Variant.reserved <= Variant.low_stock_threshold,
            )
        )
        .scalars()
        .all()
    )
    for variant in low:
        for address in current_app.config["STAFF_ALERT_EMAILS"]:
            notify(
                "low-stock",
                to=address,
                category=Category.STAFF,
                variables={
                    "sku": variant.sku,
                    "product_name": variant.product.name,
                    "available": variant.stock_on_hand - variant.reserved,
                    "threshold": variant.low_stock_threshold,
                    "admin_url": external_url("admin.dashboard"),
                },
            )


def _clear_cart(order: Order) -> None:
    """Take what was bought out of the cart it was bought from, and only that: the shopper
    may have kept shopping (in the app, another tab) while an older session was being paid.
    A line goes when the order covers its quantity, else it keeps the rest."""
    from app.orders.services import cart_of

    cart = cart_of(order)  # never another shopper's cart that got the same id
    if cart is None:
        return
    bought: dict[int, int] = {}
    for line in order.lines:
        if line.variant_id is not None:
            bought[line.variant_id] = bought.get(line.variant_id, 0) + line.quantity
    for variant_id, quantity in sorted(bought.items()):
        mine = sa.and_(CartLine.cart_id == cart.id, CartLine.variant_id == variant_id)
        db.session.execute(
            sa.delete(CartLine)
            .where(mine, CartLine.quantity <= quantity)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.update(CartLine)
            .where(mine)
            .values(quantity=CartLine.quantity - quantity)
            .execution_options(synchronize_session=False)
        )
    db.session.expire(cart, ["lines"])


def _send_confirmation(order: Order) -> None:
    address = order.shipping_address or {}
    lines_text = [
        address.get(k, "")
        for k in ("full_name", "line1", "line2", "city", "postal_code", "region", "country")
    ]
    notify(
        "order-confirmation",
        to=order.email,
        user_id=order.user_id,
        variables={
            "name": (address.get("full_name") or "there").split()[0],
            "order_number": order.number,
            "currency": order.currency,
            "order_url": order_link(order),
            "lines": [
                {
                    "name": ln.product_name,
                    "options": ln.variant_options,
                    "quantity": ln.quantity,
                    "unit_price": ln.unit_price,
                    "line_total": ln.line_total,
                }
                for ln in order.lines
            ],
            "subtotal": order.subtotal,
            "shipping": order.shipping,
            "tax": order.tax,
            "total": order.total,
            "shipping_address": "\n".join(p for p in lines_text if p),
        },
    )


def order_link(order: Order) -> str:
    """Signed-in customers see their orders; guests get a signed link that needs no login."""
    from app.checkout.links import order_token

    return external_url("checkout.order_status", token=order_token(order))


def _refund_whole_payment(order: Order, payment: Payment) -> None:
    intent, amount, number = payment.payment_intent, payment.amount, order.number

    def refund() -> None:
        provider.create_refund(
            payment_intent=intent,
            amount=amount,
            idempotency_key=f"autorefund-{number}",
            metadata={"order_number": number, "reason": "out of stock"},
        )

    after_commit(refund)


def _alert_staff(order: Order) -> None:
    for address in current_app.config["STAFF_ALERT_EMAILS"]:
        notify(
            "dead-letter-alert", to=address, category=Category.STAFF, variables={"dead_count": 1}
        )


def record_payment_failed(session_id: str, reason: str) -> None:
    payment = _payment_for(session_id)
    if payment is None or payment.status != "pending":
        return
    payment.status, payment.failure_reason = "failed", reason[:255]
    order = payment.order
    if order.status == OrderStatus.PENDING_PAYMENT:
        transition(order, OrderStatus.PAYMENT_FAILED, note=reason)
        notify(
            "payment-failed",
            to=order.email,
            user_id=order.user_id,
            variables={
                "name": (order.shipping_address or {}).get("full_name", "there").split()[0],
                "order_number": order.number,
                "currency": order.currency,
                "order_url": order_link(order),
                "reason": reason,
                "retry_url": external_url("cart.view_cart"),
            },
        )


def record_refund(payment_intent: str, amount_refunded: int) -> None:
    """charge.refunded: the provider's running total; settles the shop's pending refunds it
    covers (see app.orders.refund_settlement) and never goes backwards."""
    from app.orders.refund_settlement import record_provider_total

    record_provider_total(payment_intent, amount_refunded)


def record_session_expired(session_id: str) -> None:
    payment = _payment_for(session_id)
    if payment is None:
        return
    if payment.status == "pending":
        payment.status = "expired"
    order = payment.order
    still_open = any(p.status == "pending" for p in order.payments if p.id != payment.id)
    if not still_open:
        cancel_unpaid(order, note="checkout session expired")


def expire_open_sessions(order: Order) -> None:
    for payment in order.payments:
        if payment.status == "pending":
            payment.status = "expired"
            sid = payment.session_id
            after_commit(lambda s=sid: _expire_quietly(s, f"expire-{s}"))


def expire_stale_orders() -> int:
    """Release reservations whose checkout was abandoned (in case no webhook ever came)."""
    from app.orders.services import list_expired_reservations

    count = 0
    for order in list_expired_reservations():
        expire_open_sessions(order)
        if cancel_unpaid(order, note="reservation expired"):
            count += 1
    return count

"""A Checkout Session's outcome becomes its order's: paid, failed or expired.

The success page, the webhook task and the reservation sweeper call these functions, any
number of times and at the same moment. Each trusts only the session as the provider reports
it when retrieved, never the browser nor an event's body, and each is idempotent: an order
is paid, its stock sold, its cart cleared and its confirmation sent exactly once; a payment
the shop cannot keep is refunded exactly once, and staff are told.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import OperationalError

from app.accounts.addresses import address_lines
from app.accounts.audit import audit
from app.cart import tasks as cart_tasks
from app.cart.models import Cart, CartLine
from app.checkout import revival, sessions
from app.checkout.details import forget_details
from app.checkout.models import CheckoutAttempt
from app.core.numbers import parse_int
from app.core.templating import money
from app.db import after_commit, utcnow, write_phase
from app.extensions import db
from app.notifications.models import Category
from app.notifications.rendering import external_url
from app.notifications.services import notify
from app.orders.fulfilment import lock_order
from app.orders.links import notify_customer
from app.orders.models import CancelReason, Order, OrderStatus
from app.orders.refunds import issue_refund
from app.orders.services import (
    cancel_unpaid,
    cart_of,
    list_expired_reservations,
)
from app.orders.states import PAID_STATES, UNPAID, transition
from app.payments import provider
from app.payments.models import Payment, PaymentStatus
from app.payments.types import CheckoutSession, PaymentError

log = logging.getLogger(__name__)

ASYNC_WAIT = timedelta(days=1)  # a bank transfer or debit still clearing: look again then


# -- paid ---------------------------------------------------------------------------------


def _locked(session_id: str) -> tuple[Payment, Order] | tuple[None, None]:
    """The session's payment and its order, locked order first, then payment — the order
    every path that changes both keeps (checkout, the sweeper, refunds, staff cancels)."""
    found = sessions.payment_for_session(session_id)
    if found is None:
        return None, None
    order = lock_order(found.order_id)
    payment = sessions.payment_for_session(session_id, lock=True)
    assert order is not None and payment is not None
    return payment, order


def complete_session(session_id: str, *, session: CheckoutSession | None = None) -> Order | None:
    """The provider says the session is paid: the order becomes paid (once), or the payment
    is given back when the shop cannot keep it. ``session``: as retrieved from the provider
    (the webhook task and the success page fetch it before any row is locked)."""
    known = sessions.payment_for_session(session_id)
    if known is not None and known.fulfilled_at is not None:
        return known.order  # a duplicate delivery: nothing to ask the provider
    session = session or provider.retrieve_checkout_session(session_id)
    payment, order = _locked(session_id)
    if payment is None:
        adopted = _adopt(session)
        if adopted is None:
            log.error("payment for a checkout session this shop does not know: %s", session_id[:80])
            return None
        payment, order = _locked(session_id)
    assert payment is not None and order is not None
    if payment.fulfilled_at is not None:
        return order
    if session.payment_status != "paid":
        return order  # still processing (or unpaid): nothing to do yet
    if session.amount_total != order.total or (session.currency or "").upper() != order.currency:
        _amount_mismatch(order, payment, session)
        return order
    payment.payment_intent = session.payment_intent or ""
    payment.status, payment.fulfilled_at = PaymentStatus.SUCCEEDED, utcnow()
    db.session.flush()
    if order.status in PAID_STATES:  # another session of this order was paid first
        _give_back(order, payment, "Paid twice: another payment had already paid this order.")
        return order
    revived = revival.prepare(order) if revival.is_revival(order) else None
    outcome = revival.sell(order, revived)
    if outcome.needs_refund:
        _give_back(
            order,
            payment,
            order.needs_attention
            or "Paid after the order was cancelled (it had been replaced or cancelled on purpose).",
        )
        return order
    if outcome.fulfilled:
        audit(
            "payment.received",
            target=order.number,
            detail=f"{money(payment.amount, order.currency)} by {payment.provider} session "
            f"{payment.session_id} (payment {payment.payment_intent})",
        )
        _clear_cart(order, revived.cart if revived is not None else cart_of(order))
        _send_confirmation(order)
        twice = revival.paid_twice(order, revived) if revived is not None else []
        if twice:
            alert_staff(
                order,
                problem=f"Paid through its expired checkout after order {', '.join(twice)} "
                "of the same cart was paid for some of the same items.",
                action="Ask the customer whether they meant to buy these twice; refund this "
                "order from its page if not.",
            )
    return order


def _adopt(session: CheckoutSession) -> Payment | None:
    """A session the shop asked for but never heard back about (the answer was lost): find its
    attempt by the order number and attempt it carries, and record it."""
    number = session.client_reference_id or session.metadata.get("order_number", "")
    attempt_number = parse_int(session.metadata.get("attempt"), minimum=1, maximum=999_999)
    if (not number or attempt_number is None) and session.recovered_from:
        # Made from an expired session's recovery link: the order that session was for.
        earlier = sessions.payment_for_session(session.recovered_from[:255])
        if earlier is not None:
            number, attempt_number = earlier.order.number, earlier.attempt
    if not number or attempt_number is None:
        return None
    attempt = db.session.execute(
        sa.select(CheckoutAttempt)
        .join(Order, Order.id == CheckoutAttempt.order_id)
        .where(Order.number == number[:20], CheckoutAttempt.number == attempt_number)
    ).scalar_one_or_none()
    return sessions.record(attempt, session) if attempt is not None else None


def _amount_mismatch(order: Order, payment: Payment, session: CheckoutSession) -> None:
    if payment.failure_reason == "amount mismatch":
        return  # flagged and told already
    paid = (
        money(session.amount_total, (session.currency or "").upper())
        if session.amount_total is not None
        else "an unknown amount"
    )
    order.needs_attention = (
        f"Paid {paid}, but the order total is {money(order.total, order.currency)}."
    )
    payment.failure_reason = "amount mismatch"
    log.error("amount mismatch on %s: %s", order.number, order.needs_attention)
    audit("payment.amount_mismatch", target=order.number, detail=order.needs_attention)
    alert_staff(
        order,
        problem=order.needs_attention,
        action="The order was not marked paid. Compare the payment in the Stripe dashboard "
        "with the order, then refund the payment there or contact the customer.",
    )


def _give_back(order: Order, payment: Payment, reason: str) -> None:
    """A payment the shop cannot keep: refunded in full through the refund path (audited,
    sent with its own idempotency key, settled by the provider), and staff are told."""
    order.needs_attention = reason[:255]
    issue_refund(
        order,
        amount=payment.amount,
        payment=payment,
        reason=reason,
        source="automatic",
    )
    alert_staff(
        order,
        problem=reason,
        action=f"The payment of {money(payment.amount, order.currency)} is being refunded "
        "automatically; check the order's refunds, and contact the customer if they need "
        "the goods.",
    )


# -- the shopper comes back from paying ---------------------------------------------------


@dataclass
class Return:
    order: Order
    state: str  # "paid" | "processing" | "unpaid" (still open) | "closed" (expired, not paid)
    pay_url: str = ""


def complete_on_return(session_id: str) -> Return | None:
    """The success page: the order as the provider's session says, completing the payment
    here when the webhook has not yet (Stripe's advice), in a short writing transaction of
    its own. Racing the webhook task is safe: the loser waits for the winner's lock and finds
    the order paid; should the wait run out, the page says "processing" and looks again.
    None: not a session of this shop."""
    payment = sessions.payment_for_session(session_id)
    if payment is None:
        return _return_for_unrecorded(session_id)
    order_id = payment.order_id
    if payment.order.paid_at is not None:
        return Return(payment.order, "paid")
    try:
        session = provider.retrieve_checkout_session(session_id)
    except PaymentError:
        return Return(payment.order, "processing")
    if session.payment_status != "paid":
        state = {"open": "unpaid", "expired": "closed"}.get(session.status, "processing")
        return Return(payment.order, state, pay_url=session.url or "")
    try:
        with write_phase("payment-completed-on-return"):
            complete_session(session_id, session=session)
    except OperationalError:
        log.warning("success page gave way to a concurrent fulfilment of %s", session_id[:80])
    order = db.session.get(Order, order_id, populate_existing=True)
    assert order is not None
    return Return(order, "paid" if order.paid_at is not None else "processing")


SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{8,250}")


def _return_for_unrecorded(session_id: str) -> Return | None:
    if not SESSION_ID.fullmatch(session_id):
        return None  # not an id the provider gives out: no call made
    try:
        session = provider.retrieve_checkout_session(session_id)
    except PaymentError:
        return None
    number = session.client_reference_id or ""
    if not number or not session.metadata.get("attempt"):
        return None
    try:
        with write_phase("session-adopted-on-return"):
            if _adopt(session) is not None and session.payment_status == "paid":
                complete_session(session_id, session=session)
    except OperationalError:
        log.warning("success page gave way to a concurrent adoption of %s", session_id[:80])
    if sessions.payment_for_session(session_id) is None:
        return None
    return complete_on_return(session_id)


# -- failed and expired -------------------------------------------------------------------


def record_payment_failed(
    session_id: str, reason: str, *, session: CheckoutSession | None = None
) -> None:
    """An asynchronous payment failed: the order waits for another try (same order)."""
    if _paid_after_all(session_id, session) is None:
        return
    payment, order = _locked(session_id)
    if payment is None or order is None or payment.status != PaymentStatus.PENDING:
        return
    payment.status, payment.failure_reason = "failed", reason[:255]
    if order.status == OrderStatus.PENDING_PAYMENT and sessions.is_current(order, payment):
        transition(order, OrderStatus.PAYMENT_FAILED, note=reason)
        notify_customer(
            order, "payment-failed", reason=reason, retry_url=external_url("cart.view_cart")
        )


def record_session_expired(session_id: str, *, session: CheckoutSession | None = None) -> None:
    """The provider closed a session unpaid. The order is cancelled (stock released) when no
    other session or request of it is still going, and only once the retrieved session
    confirms it: an event can be older than a payment made since."""
    session = _paid_after_all(session_id, session)
    if session is None or session.status != "expired":
        return
    payment, order = _locked(session_id)
    if payment is None or order is None:
        return
    if payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.EXPIRED
    if order.status in UNPAID and not _still_open(order):
        cancel_unpaid(order, note="checkout session expired", reason=CancelReason.EXPIRED)
        if (  # the guest walked away from this order, and agreed to hear from the shop
            order.user_id is None
            and session.recovery_url
            and session.promotions_consent == "opt_in"
        ):
            # After this commit, in a transaction of its own: the mail claims the cart, and
            # this one holds the order, while a revival or a press locks the cart before the
            # orders (PostgreSQL would find the two in a deadlock).
            after_commit(
                partial(cart_tasks.recover_guest, order.id, session.recovery_url),
                key=f"recover-guest:{order.id}",
            )


def _paid_after_all(session_id: str, session: CheckoutSession | None) -> CheckoutSession | None:
    """The session as the provider reports it, for an event saying it failed or expired —
    or None when there is nothing more to do: not a session of this shop, or paid after all
    (an event can be older than what happened since), and then completed here."""
    if sessions.payment_for_session(session_id) is None:
        return None
    session = session or provider.retrieve_checkout_session(session_id)
    if session.payment_status == "paid":
        complete_session(session_id, session=session)
        return None
    return session


def _still_open(order: Order) -> bool:
    return any(p.status == PaymentStatus.PENDING for p in order.payments) or any(
        a.resolved_at is None for a in sessions.attempts_of(order)
    )


def expired_checkouts(limit: int = 50) -> list[int]:
    """Unpaid orders whose hold ran out (the sweeper settles each: app/checkout/tasks.py)."""
    return [order.id for order in list_expired_reservations(limit)]


def unanswered_attempts(order_id: int) -> list[int] | None:
    """The order's requests whose answer never came; None when it no longer waits unpaid."""
    order = db.session.get(Order, order_id)
    if order is None or order.status not in UNPAID:
        return None
    return [a.id for a in sessions.attempts_of(order) if a.resolved_at is None]


def pending_sessions(order_id: int) -> list[str]:
    return list(
        db.session.execute(
            sa.select(Payment.session_id).where(
                Payment.order_id == order_id, Payment.status == PaymentStatus.PENDING
            )
        ).scalars()
    )


def settle_expired(order_id: int, seen: dict[str, CheckoutSession]) -> int:
    """Settle an order whose hold ran out by what the provider said of each of its sessions
    (``seen``, asked with no transaction open): a paid one completes it, one still clearing
    or not closed yet keeps it waiting, and only an order with nothing left that could pay
    it is cancelled. Returns 1 when it was cancelled."""
    order = lock_order(order_id)
    if order is None or order.status not in UNPAID:
        return 0
    if order.reservation_expires_at is not None and order.reservation_expires_at > utcnow():
        return 0  # the shopper pressed Pay again meanwhile: a new session holds it
    if {p.session_id for p in order.payments if p.status == PaymentStatus.PENDING} - set(seen):
        return 0  # a session handed out while the provider was asked: next run
    clearing = unclosed = False
    for session_id, session in seen.items():
        if session.payment_status == "paid":
            complete_session(session_id, session=session)
            return 0
        payment = sessions.payment_for_session(session_id, lock=True)
        if session.status == "expired":
            if payment is not None and payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.EXPIRED
        elif session.status == "complete":
            clearing = True  # paid by a method that takes days to clear
        else:
            unclosed = True  # could not be expired just now
    if clearing or unclosed or any(a.resolved_at is None for a in sessions.attempts_of(order)):
        order.reservation_expires_at = utcnow() + (ASYNC_WAIT if clearing else timedelta(minutes=5))
        return 0
    cancel_unpaid(order, note="checkout expired unpaid", reason=CancelReason.EXPIRED)
    return 1


# -- after a payment ----------------------------------------------------------------------


def _clear_cart(order: Order, cart: Cart | None) -> None:
    """Take what was bought out of the cart it was bought from, and only that: the shopper
    may have kept shopping (in the app, another tab) while an older session was being paid.
    A line goes when the order covers its quantity, else it keeps the rest. A guest cart's
    checkout details go too: the next person at a shared computer must not find them (an
    account keeps its own, as its address book does)."""
    # Without the cart's lock (the lock order is cart, then orders; this order is locked):
    # a press that read the lines before this commits sees this order stop holding stock and
    # reads them again (app.checkout.services._prepare). Only an order revived from expiry
    # has locked its cart by now (app.checkout.revival.prepare): a cancelled order is one that no
    # holder of a cart waits for.
    # ``cart``: the one it was placed from (never another shopper's cart that got the same
    # id: app.orders.services.cart_of), or for a revived order the one its shopper uses now.
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
    code = cart.voucher_code
    if code and (
        any(d.code == code for d in order.discounts)
        or not db.session.execute(sa.select(CartLine.id).where(CartLine.cart_id == cart.id)).first()
    ):  # used (or its cart is done): the next order starts without it
        after_commit(partial(cart_tasks.forget_code, cart.id, code), key=f"forget-code:{cart.id}")
    if cart.user_id is None:
        forget_details(cart.id)
    db.session.expire(cart, ["lines"])


def _send_confirmation(order: Order) -> None:
    notify_customer(
        order,
        "order-confirmation",
        lines=[
            {
                "name": ln.product_name,
                "options": ln.variant_options,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "line_total": ln.line_total,
            }
            for ln in order.lines
        ],
        subtotal=order.subtotal,
        discounts=[d.as_dict() for d in order.discounts],
        shipping=order.shipping,
        tax=order.tax,
        tax_inclusive=order.tax_inclusive,
        total=order.total,
        shipping_address="\n".join(address_lines(order.shipping_address)),
        billing_address="\n".join(address_lines(order.billing_address))
        if order.billing_address and order.billing_address != order.shipping_address
        else "",
    )


def alert_staff(order: Order, *, problem: str, action: str) -> None:
    """Tell staff about money that needs a person: which order, what happened, what to do."""
    for address in current_app.config["STAFF_ALERT_EMAILS"]:
        notify(
            "payment-anomaly",
            to=address,
            category=Category.STAFF,
            variables={
                "order_number": order.number,
                "problem": problem,
                "action": action,
                "admin_url": external_url("admin.orders_detail", order_id=order.id),
            },
        )

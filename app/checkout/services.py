"""Checkout as one service for both doors: the website's views and the API's handlers parse
their input, call these, and render; neither calls the payment provider nor commits.

``start_payment`` is the one way from a cart to a Checkout Session:

1. With the cart locked: check the cart and its details, price them, and find the order to
   pay. An unpaid order of this cart that matches exactly (lines, prices, totals, addresses,
   email, delivery) is paid again — a double press, a retry, a payment retried after a
   decline all keep one order number — and any other is replaced (cancelled, stock
   released, its sessions closed). Then the request to the provider is fixed as an attempt
   (app/checkout/sessions.py) or an attempt still in flight is taken over.
2. Commit point: the order, its reservation and the attempt exist before the network call.
3. The provider call, with no transaction open.
4. The session is recorded on the order, unless the order was replaced meanwhile, in which
   case the session is expired at once and the shopper is told the cart changed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.cart.models import Cart
from app.cart.queries import CartView, build_cart_view, deal_of, held_by
from app.cart.services import acknowledge_prices, locked_now
from app.checkout import errors
from app.checkout.details import check_cart, details_for, method_for
from app.checkout.errors import CheckoutError, DetailsInvalid
from app.checkout.models import CheckoutAttempt, CheckoutDetails
from app.checkout.sessions import (
    Send,
    attempts_of,
    close_checkout,
    expire_after_commit,
    held_until,
    live_payment,
    new_attempt,
    payment_for_session,
    record_first,
    replayable,
    resolve_attempt,
    send,
    send_of,
    session_expiry,
    waits_on,
)
from app.core.templating import money
from app.db import commit_point, read_phase, undone_on_error, utcnow
from app.extensions import db
from app.inventory.services import lock_stock
from app.orders.fulfilment import lock_order_status
from app.orders.models import CancelReason, Order, OrderStatus
from app.orders.pricing import Quote, QuoteItem, build_quote
from app.orders.services import (
    cancel_unpaid,
    placed_from_bound,
    placed_from_values,
    reserve_order,
    write_order,
)
from app.orders.states import UNPAID, transition
from app.payments import provider
from app.payments.customers import customer_for_checkout, forget_customer
from app.payments.models import PaymentStatus
from app.payments.types import (
    UNAVAILABLE_MESSAGE,
    CheckoutSession,
    PaymentError,
    PaymentRejected,
    PaymentsUnavailable,
    minimum_charge,
)

log = logging.getLogger(__name__)

CHANGED_MESSAGE = (
    "Your cart changed while the payment was being prepared. Please check it and pay again."
)


@dataclass(frozen=True)
class Ready:
    """A cart that can be paid for: its view, its details and the server's quote."""

    cart: Cart
    view: CartView
    details: CheckoutDetails
    quote: Quote


@dataclass(frozen=True)
class ReturnUrls:
    """Where the provider sends the shopper back; ``success`` carries the session id."""

    success: str
    cancel: str


@dataclass(frozen=True)
class PaymentStart:
    order_number: str
    url: str  # where the shopper pays (or, already paid, the success page)
    reused: bool  # an earlier request's order and session came back


@dataclass(frozen=True)
class _Reuse:
    session_id: str
    url: str
    success_url: str


def quote_items(view: CartView) -> list[QuoteItem]:
    """The cart's lines at today's catalog prices."""
    return [
        QuoteItem(
            variant_id=lv.line.variant_id,
            product_name=lv.line.variant.product.name,
            variant_options=lv.line.variant.options_label,
            sku=lv.line.variant.sku,
            unit_price=lv.unit_price,
            quantity=lv.line.quantity,
        )
        for lv in view.lines
    ]


def quote_for(view: CartView, details: CheckoutDetails) -> Quote:
    """The server's totals for the cart as it is, delivered as the details say."""
    country = details.shipping_address["country"]
    method = method_for(details.shipping_method, country)
    if method is None:
        raise CheckoutError(
            "We do not deliver there with that option any more; choose another.",
            code=errors.METHOD_UNAVAILABLE,
        )
    return build_quote(
        quote_items(view),
        currency=view.currency,
        country=country,
        region=details.shipping_address.get("region", ""),
        method=method,
        deal=deal_of(view, email=details.email),
    )


def ready_to_pay(
    cart: Cart | None,
    *,
    shown: bool = True,
    own: dict[int, int] | None = None,
    view: CartView | None = None,
) -> Ready:
    """The cart, its details and its quote, or the first reason it cannot be paid for
    (``shown=False``: for paying, not for a page; ``own``: what its unpaid orders hold; see
    :func:`build_cart_view`; ``view``: the cart's view read already in this transaction)."""
    if view is None:
        view = build_cart_view(cart, shown=shown, own=own)
    check_cart(view)
    assert cart is not None
    details = details_for(cart)
    if details is None:
        raise CheckoutError("Enter your delivery details first.", code=errors.DETAILS_MISSING)
    return Ready(cart, view, details, quote_for(view, details))


def lock_cart(cart: Cart) -> None:
    """Serialise checkouts of one cart (PostgreSQL row lock; SQLite's form posts already
    hold the database's write lock from their first statement), and read it again as the
    lock finds it — unless this transaction read it with the lock already."""
    if locked_now(cart):
        return
    db.session.execute(
        sa.select(Cart)
        .where(Cart.id == cart.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def start_payment(
    find: Callable[[bool], Cart | None],
    *,
    user_id: int | None,
    urls: ReturnUrls,
    accepted_terms: bool,
) -> PaymentStart:
    """Place (or find again) the cart's order and give back where the shopper pays.

    ``find(lock)``: the shopper's cart, read with its row lock when ``lock`` (paying takes
    it anyway, so one statement instead of a read and a lock). Only a shopper who accepted
    the shop's terms (website checkbox, API ``accept_terms``) gets this far; the order
    records when (``terms_accepted_at``)."""
    if accepted_terms is True:  # otherwise that is what the shopper is told first
        _refuse_early(find)
    customer = None
    if accepted_terms is True and user_id is not None:
        customer = _customer(user_id, find)
    cart = find(True)
    if cart is None:
        raise CheckoutError("Your cart is empty.", code=errors.CART_EMPTY)
    if accepted_terms is not True:
        raise DetailsInvalid({"accept_terms": [errors.TERMS_REQUIRED]})
    for _ in range(3):  # a reused session may turn out closed: then once more, anew
        plan, number = _prepare(cart, user_id=user_id, urls=urls, customer=customer)
        commit_point("checkout-prepared")  # order, reservation and attempt exist first
        if isinstance(plan, _Reuse):
            try:
                session = provider.retrieve_checkout_session(plan.session_id)
            except PaymentError as exc:
                raise _unavailable(exc) from exc
            if session.status == "open":
                return PaymentStart(number, session.url or plan.url, reused=True)
            if session.status == "complete":  # paid just now; the event is on its way
                return PaymentStart(number, plan.success_url, reused=True)
            _forget(plan.session_id)
            continue
        try:
            session = send(plan)
        except PaymentRejected as exc:
            resolve_attempt(plan.attempt_id)
            if exc.param == "customer" and customer and user_id is not None:
                forget_customer(user_id, customer)  # gone at the provider: pay without it
                customer = None
                commit_point("unknown-customer-forgotten")
                continue
            commit_point("attempt-resolved")  # stands although the shopper is refused
            raise _unavailable(exc) from exc
        except PaymentsUnavailable as exc:
            if exc.replayed:  # Stripe saved an error for this request: only a new one helps
                resolve_attempt(plan.attempt_id)
                commit_point("attempt-resolved")
                continue
            raise _unavailable(exc) from exc  # kept: a retry sends the same request again
        return _record_sent(plan, session, number)
    raise CheckoutError(CHANGED_MESSAGE, code=errors.CHANGED)


def _refuse_early(find: Callable[[bool], Cart | None]) -> None:
    """SQLite: a cart that cannot be paid for as it stands (sold out, say) is refused from a
    read, before the press queues for the database's write lock behind everyone else's.

    A form post's transactions take SQLite's one write lock from their first statement, so
    in a rush for the last units every refused press used to wait its turn like a paying
    one. The same rule (:func:`check_cart`) is asked again under the lock, which is what
    decides; this only lets the obvious refusals out early. PostgreSQL locks rows, not the
    database: there the question is asked once, under the cart's lock."""
    if db.engine.dialect.name != "sqlite":
        return
    with read_phase("checkout-stock-check"):
        cart = find(True)  # SQLite locks no rows: the cart and its lines in one statement
        if cart is not None:
            check_cart(build_cart_view(cart, shown=False))


def _customer(user_id: int, find: Callable[[bool], Cart | None]) -> str | None:
    """The account's Customer at the provider, made at its first checkout that can go ahead
    (with no transaction open). Paying matters more than saving a card: when the provider
    cannot make one right now, this checkout goes ahead without it."""
    try:
        return customer_for_checkout(
            user_id, payable=lambda: ready_to_pay(find(False), shown=False)
        )
    except PaymentError:
        log.warning("no customer for account %s; paying without one", user_id, exc_info=True)
        return None


def _prepare(
    cart: Cart, *, user_id: int | None, urls: ReturnUrls, customer: str | None = None
) -> tuple[Send | _Reuse, str]:
    """Phase 1, with the cart locked: the order to pay and what to ask the provider.

    The cart's lines are read first, its own reservations a column of that one statement (a
    consistent snapshot), and checked: in a rush for the last units most presses are
    refused right there, with two statements and no order locked. Then its unpaid orders,
    locked; the lines are read again only when those orders hold other units than the
    snapshot said (one settled in between)."""
    lock_cart(cart)
    seen = build_cart_view(cart, shown=False)
    check_cart(seen)
    unpaid = _unpaid_orders(cart)  # locked: the sweeper or a webhook may be settling them
    own = held_by(unpaid)
    in_cart = {lv.line.variant_id for lv in seen.lines}
    if {v: n for v, n in own.items() if v in in_cart} == seen.own:
        ready = ready_to_pay(cart, shown=False, own=own, view=seen)
    else:
        # Settled in between: its lines and stock as they are now, not as the snapshot had
        # them. A payment that completed meanwhile took what it bought out of the cart
        # (without the cart's lock: completion locks its order first), so the lines are read
        # again too, or the press would charge for what was just paid for. Each variant is
        # taken before its line is expired (a removed line would be reloaded to find it).
        for lv in seen.lines:
            variant = lv.line.variant
            db.session.expire(lv.line)
            db.session.expire(variant)
        ready = ready_to_pay(cart, shown=False, own=own)
    if ready.quote.code and ready.quote.code_problem:  # never a surprise full price
        raise CheckoutError(
            f"{ready.quote.code_problem} Remove the code from your cart to pay without it.",
            code=errors.VOUCHER_NOT_APPLICABLE,
        )
    smallest = minimum_charge(ready.quote.currency)
    if ready.quote.total < smallest:
        raise CheckoutError(
            f"Card payments start at {money(smallest, ready.quote.currency)}; add something "
            "to your cart to pay.",
            code=errors.TOTAL_TOO_SMALL,
        )
    acknowledge_prices(ready.view)  # the shopper has seen these prices on the way here
    order = next((pending for pending in unpaid if _matches(pending, ready)), None)
    replaced = [pending for pending in unpaid if pending is not order]
    if replaced:
        # Releasing their stock and reserving the new order's in one transaction: all of
        # it locked up front, in the lock order.
        lock_stock(
            [line.variant_id for o in replaced for line in o.lines]
            + ([line.variant_id for line in ready.quote.lines] if order is None else [])
        )
        for pending in replaced:
            close_checkout(pending)
            cancel_unpaid(
                pending, note="replaced by a new payment attempt", reason=CancelReason.REPLACED
            )
    if order is None:
        return _place(ready, user_id=user_id, urls=urls, customer=customer)
    if order.status == OrderStatus.PAYMENT_FAILED:
        transition(order, OrderStatus.PENDING_PAYMENT, note="payment retried")
    order.terms_accepted_at = utcnow()
    live = live_payment(order)
    if live is not None:
        attempt = next((a for a in attempts_of(order) if a.number == live.attempt), None)
        success = attempt.request["success_url"] if attempt else urls.success
        reuse = _Reuse(
            live.session_id,
            live.checkout_url,
            success.replace("{CHECKOUT_SESSION_ID}", live.session_id),
        )
        return reuse, order.number
    attempt = _newest_unanswered(order)
    if attempt is not None and replayable(attempt):
        return send_of(attempt), order.number  # a double press: the same request again
    # A new session for this order: the older ones close (one payable session per order),
    # and a request unanswered for too long to send again is found out, then closed.
    close_checkout(order)
    attempt = new_attempt(
        order, success_url=urls.success, cancel_url=urls.cancel, customer=customer
    )
    return send_of(attempt), order.number


def _place(
    ready: Ready, *, user_id: int | None, urls: ReturnUrls, customer: str | None
) -> tuple[Send, str]:
    """A new order: its own rows and its first attempt, then its stock and its codes' uses.

    Those last rows are the ones every other shopper buying the same item waits on, and
    they stay locked from the statement that takes them to the commit that follows, so
    nothing else is written after them: in a burst of buyers for the last units the
    reservations queue on a few statements, not on the whole order (docs/performance.md).

    When they cannot be had, the order is undone: by a savepoint when this transaction
    wrote something before that must stand (orders replaced, prices seen), else by rolling
    the transaction back (two round trips fewer for the usual first press)."""
    kept = False
    try:
        with undone_on_error() as kept:
            order = write_order(
                ready.quote,
                email=ready.details.email,
                user_id=user_id,
                cart_id=ready.cart.id,
                shipping_address=ready.details.shipping_address,
                billing_address=ready.details.billing,
                terms_accepted_at=utcnow(),
                reservation_expires_at=held_until(session_expiry()),  # as its attempt will say
                flush=False,  # written with its attempt, in one flush
            )
            attempt = new_attempt(
                order,
                success_url=urls.success,
                cancel_url=urls.cancel,
                first=True,
                customer=customer,
            )
            plan = send_of(attempt)
            reserve_order(order, ready.quote)
    except CheckoutError:
        if kept:
            commit_point("stale-orders-replaced")  # what was replaced stays replaced
        raise
    return plan, order.number


def _record_sent(plan: Send, session: CheckoutSession, number: str) -> PaymentStart:
    """Phase 4: keep the session, unless its order stopped waiting for it meanwhile."""
    status = lock_order_status(plan.order_id)  # serialises with a press replacing it
    assert status is not None
    payment, first, newest = record_first(plan.attempt_id, session, lock_order_id=None)
    reused = not first  # another call recorded it first
    if payment.status != PaymentStatus.PENDING or not waits_on(status, newest=newest):
        if payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.EXPIRED
            expire_after_commit(session.id)
        commit_point("stale-session-closed")
        raise CheckoutError(CHANGED_MESSAGE, code=errors.CHANGED)
    return PaymentStart(number, session.url or payment.checkout_url, reused=reused)


def _unpaid_orders(cart: Cart) -> list[Order]:
    """The cart's unpaid orders, newest first, locked and re-read: one the sweeper cancelled
    a moment ago is not among them. Their lines and discounts come with them.

    Locked by a statement that reads their ids only: the usual first press has none, and
    that is all it runs (loading orders with their lines' loaders set up cost as much
    Python as a whole INSERT, even for no rows). Those found are then read whole."""
    values = placed_from_values(cart)
    locked = _unpaid_ids_statement(signed_in=bool(cart.user_id))
    ids = list(db.session.execute(locked, values).scalars())
    if not ids:
        return []
    return list(db.session.execute(_unpaid_statement(), {"ids": ids}).scalars())


@functools.cache
def _unpaid_ids_statement(*, signed_in: bool) -> sa.Select[int]:
    """:func:`_unpaid_orders`' lock, built once per process and run with the cart's owner as
    bound values. PostgreSQL checks the status again on the row version it locks."""
    return (
        sa.select(Order.id)
        .where(placed_from_bound(signed_in), Order.status.in_(UNPAID))
        .order_by(Order.id.desc())
        .with_for_update(key_share=True, of=Order)
    )


@functools.cache
def _unpaid_statement() -> sa.Select[Order]:
    """The orders :func:`_unpaid_orders` locked, read whole (built once per process)."""
    return (
        sa.select(Order)
        .where(Order.id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(Order.id.desc())
        .options(selectinload(Order.lines), selectinload(Order.discounts))
        .execution_options(populate_existing=True)
    )


def _matches(order: Order, ready: Ready) -> bool:
    """Exactly the order a new one would be, its stock still held."""
    details, quote = ready.details, ready.quote
    return (
        order.status in UNPAID
        and order.reservation_released_at is None
        and order.stock_committed_at is None
        and order.email == details.email
        and order.currency == quote.currency
        and (order.subtotal, order.shipping, order.tax, order.discount, order.total)
        == (quote.subtotal, quote.shipping, quote.tax, quote.discount, quote.total)
        and order.tax_inclusive == quote.tax_inclusive
        and sorted((d.promotion_id or 0, d.code, d.amount) for d in order.discounts)
        == sorted((d.promotion_id, d.code, d.amount) for d in quote.discounts)
        and order.shipping_method == quote.shipping_method
        and order.shipping_address == details.shipping_address
        and order.billing_address == details.billing
        and sorted((ln.variant_id, ln.quantity, ln.unit_price) for ln in order.lines)
        == sorted((ln.variant_id, ln.quantity, ln.unit_price) for ln in quote.lines)
    )


def _newest_unanswered(order: Order) -> CheckoutAttempt | None:
    attempts = attempts_of(order)
    newest = attempts[-1] if attempts else None
    return newest if newest is not None and newest.resolved_at is None else None


def _forget(session_id: str) -> None:
    """A session we were about to hand out again turned out closed: a new one next time."""
    payment = payment_for_session(session_id, lock=True)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.EXPIRED
    commit_point("closed-session-forgotten")


def _unavailable(exc: PaymentError) -> CheckoutError:
    return CheckoutError(str(exc) or UNAVAILABLE_MESSAGE, code=errors.PAYMENTS_UNAVAILABLE)

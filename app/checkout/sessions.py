"""Checkout Sessions at the payment provider, made through write-ahead attempts.

Stripe's documented rules, kept here (and enforced by tests/fakes/stripe_server.py):

* ``expires_at`` must be 30 minutes to 24 hours after Stripe *receives* the create request.
  An attempt fixes it once, ``RESERVATION_MINUTES`` plus :data:`SESSION_MARGIN` ahead, and
  is sent again only within :data:`REPLAY_WINDOW` of being made, so even a request that
  first reaches Stripe at the end of the window still gives the shopper the full time.
* An idempotency key is bound to the parameters it was first used with. Each attempt stores
  its exact request (:class:`CheckoutAttempt`) and every send of it sends exactly that, so a
  double press, an API retry and the sweeper all get the *same* session back.
* A session of an order that was replaced or cancelled never stays payable: open ones are
  expired; one whose create answer never arrived is found out by sending the request again
  (``settle_attempt`` in app/checkout/tasks.py) and then expired.

The stock reservation outlives the session by :data:`RESERVATION_GRACE`, and nothing is
released before the provider says the session is over (app/checkout/completion.py).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app

from app.checkout import tasks
from app.checkout.models import CheckoutAttempt
from app.db import after_commit, bound_values, upsert, utcnow
from app.db_rows import insert_new
from app.extensions import db
from app.orders.models import Order
from app.orders.services import order_rows
from app.orders.states import UNPAID
from app.payments import provider
from app.payments.models import Payment, PaymentStatus
from app.payments.types import CheckoutSession, PaymentError

log = logging.getLogger(__name__)

SESSION_MARGIN = timedelta(minutes=5)  # on top of the shopper's time, for the way to Stripe
REPLAY_WINDOW = timedelta(minutes=4)  # an attempt is sent again only this soon after it was made
RESERVATION_GRACE = timedelta(minutes=5)  # stock stays held this long after the session closes
REUSE_MIN_LEFT = timedelta(minutes=10)  # a session closing sooner is not handed out again


@dataclass(frozen=True)
class Send:
    """What sending an attempt needs, read before the transaction ends (the provider is
    called with no transaction open, so no ORM object may be touched then)."""

    attempt_id: int
    idempotency_key: str
    request: dict[str, Any]
    order_id: int


def session_request(
    order: Order,
    *,
    attempt: int,
    success_url: str,
    cancel_url: str,
    expires_at: int,
    customer: str | None = None,
) -> dict[str, Any]:
    """The Checkout Session for ``order``: its lines at what the order charges for them,
    delivery, and tax when prices exclude it; the provider charges exactly the order's total.

    A discounted line is sent at what was paid for it (its total less its share of the
    discounts, app/promotions/rules.py): Stripe's unit amounts are whole minor units, so a
    share that does not divide by the quantity goes as two lines whose units differ by one
    cent, named with the discount. (Not a Stripe coupon: that would be one more object in
    the merchant's Stripe account per order, and one more request that can fail before the
    shopper may pay; the shop, not Stripe, owns prices and discounts.)

    ``customer``: the signed-in shopper's Customer at the provider (app/payments/customers.py),
    so Checkout offers their saved cards and to save a new one; guests have none."""
    codes = ", ".join(d.code or d.name for d in order.discounts if d.target == "items")
    items: list[dict[str, Any]] = []
    for line in order.lines:
        name = line.product_name + (f" ({line.variant_options})" if line.variant_options else "")
        if not line.discount:
            items.append({"name": name, "unit_amount": line.unit_price, "quantity": line.quantity})
            continue
        unit, extra = divmod(line.line_total - line.discount, line.quantity)
        name = f"{name}, {codes or 'discount'} applied"
        if extra:
            items.append({"name": name, "unit_amount": unit + 1, "quantity": extra})
        if line.quantity - extra:
            items.append({"name": name, "unit_amount": unit, "quantity": line.quantity - extra})
    if order.shipping:
        items.append(
            {
                "name": f"Shipping: {order.shipping_method}",
                "unit_amount": order.shipping,
                "quantity": 1,
            }
        )
    if order.tax and not order.tax_inclusive:
        items.append({"name": "Tax", "unit_amount": order.tax, "quantity": 1})
    return {
        "line_items": items,
        "currency": order.currency.lower(),
        "customer_email": order.email,
        "client_reference_id": order.number,
        "metadata": {"order_number": order.number, "attempt": str(attempt)},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": expires_at,
        # A guest can only be reached again if they agree at Checkout: Stripe asks them and
        # keeps a recovery link (app/cart/recovery.py). Signed-in shoppers get the shop's own.
        "recovery": order.user_id is None,
        **({"customer": customer} if customer else {}),
    }


def request_total(request: dict[str, Any]) -> int:
    return sum(int(i["unit_amount"]) * int(i["quantity"]) for i in request["line_items"])


def attempts_of(order: Order) -> list[CheckoutAttempt]:
    return list(
        db.session.execute(
            sa.select(CheckoutAttempt)
            .where(CheckoutAttempt.order_id == order.id)
            .order_by(CheckoutAttempt.number)
        ).scalars()
    )


def new_attempt(
    order: Order,
    *,
    success_url: str,
    cancel_url: str,
    first: bool = False,
    customer: str | None = None,
) -> CheckoutAttempt:
    """Fix the next request for ``order`` (number, key, parameters, expiry) before sending it,
    and hold the stock until a little after that session closes. ``first``: the order is new
    (built by :func:`~app.orders.services.write_order` with ``flush=False``), so it has no
    attempts or sessions to count, and its rows are written here with the attempt's.
    Written with plain INSERTs (:func:`app.db_rows.insert_new`)."""
    number = 1
    if not first:
        numbers = [a.number for a in attempts_of(order)] + [p.attempt for p in order.payments]
        number = max(numbers, default=0) + 1
    expires = session_expiry()
    attempt = CheckoutAttempt(
        order=order,
        number=number,
        idempotency_key=f"checkout-{order.number}-{number}",
        request=session_request(
            order,
            attempt=number,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=int(expires.timestamp()),
            customer=customer,
        ),
        expires_at=expires,
        created_at=utcnow(),
    )
    until = held_until(expires)
    if order.reservation_expires_at is None or order.reservation_expires_at < until:
        order.reservation_expires_at = until
    insert_new([*order_rows(order), attempt] if first else [attempt])
    return attempt


def session_expiry() -> datetime:
    """When a session asked for now closes: the shopper's time plus the way to Stripe."""
    minutes = current_app.config["RESERVATION_MINUTES"]
    return (utcnow() + timedelta(minutes=minutes) + SESSION_MARGIN).replace(microsecond=0)


def held_until(expires: datetime) -> datetime:
    """How long an order's stock stays held for a session closing at ``expires``."""
    return expires + RESERVATION_GRACE


def replayable(attempt: CheckoutAttempt) -> bool:
    """Unanswered, and recent enough that sending it again still meets Stripe's expiry rule."""
    return attempt.resolved_at is None and utcnow() - attempt.created_at < REPLAY_WINDOW


def send_of(attempt: CheckoutAttempt) -> Send:
    return Send(attempt.id, attempt.idempotency_key, dict(attempt.request), attempt.order_id)


def send(snapshot: Send) -> CheckoutSession:
    """Create (or, for the same key, get back) the attempt's session. No transaction may be
    open: this waits on the network."""
    return provider.create_checkout_session(
        **snapshot.request, idempotency_key=snapshot.idempotency_key
    )


def resolve_attempt(attempt_id: int) -> CheckoutAttempt | None:
    """The attempt's outcome is settled (recorded, or known to be none): marked resolved, if
    it was not already, and locked and re-read, in one statement."""
    resolved = _resolve_and_ask_newest(attempt_id)
    return resolved[0] if resolved is not None else None


def _resolve_and_ask_newest(attempt_id: int) -> tuple[CheckoutAttempt, bool] | None:
    """:func:`resolve_attempt`, and whether it is still its order's newest attempt (none with
    a higher number), in the same statement. Asked with the order locked (as every writer of
    a new attempt locks it first), the answer holds to the commit."""
    row = db.session.execute(_resolve_statement(), {"attempt_id": attempt_id, "now": utcnow()})
    found = row.one_or_none()
    return (found[0], bool(found[1])) if found is not None else None


@cache
def _resolve_statement() -> sa.Update:
    """Built once per process (see :func:`_resolve_and_ask_newest`)."""
    # Written out: SQLite's RETURNING is compiled with columns unqualified, which would make
    # a correlated subquery built from expressions compare each column to itself.
    newest = sa.literal_column(
        "NOT EXISTS (SELECT 1 FROM checkout_attempts AS later"
        " WHERE later.order_id = checkout_attempts.order_id"
        " AND later.number > checkout_attempts.number)",
        sa.Boolean,
    )
    now = sa.bindparam("now", type_=CheckoutAttempt.resolved_at.type)
    return (
        sa.update(CheckoutAttempt)
        .where(CheckoutAttempt.id == sa.bindparam("attempt_id"))
        .values(resolved_at=sa.func.coalesce(CheckoutAttempt.resolved_at, now))
        .returning(CheckoutAttempt, newest.label("newest"))
        # The row comes back whole (RETURNING, populate_existing): nothing in the session
        # needs matching against the WHERE clause first.
        .execution_options(populate_existing=True, synchronize_session=False)
    )


def payment_for_session(session_id: str, *, lock: bool = False) -> Payment | None:
    query = sa.select(Payment).where(Payment.session_id == session_id)
    if lock:
        # FOR NO KEY UPDATE: a refund being inserted for this payment must not deadlock it.
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def record(attempt: CheckoutAttempt, session: CheckoutSession) -> Payment:
    """Store the session an attempt made, once, whoever learns of it first (the press that
    sent it, a second press that sent it again, the settling task, a webhook)."""
    return record_first(attempt.id, session, lock_order_id=attempt.order_id)[0]


class Recorded(NamedTuple):
    payment: Payment
    first: bool  # this call stored it
    newest: bool  # its attempt is the order's newest (none made after it)


def record_first(
    attempt_id: int, session: CheckoutSession, *, lock_order_id: int | None
) -> Recorded:
    """:func:`record`, whether this call stored it (False: another learner had), and whether
    its attempt is still the order's newest. ``lock_order_id``: the attempt's order, locked
    first; None when the caller holds it."""
    from app.orders.fulfilment import lock_order

    # Order, then attempt, then payment: the order every learner of a session keeps (the
    # press that sent it locked the order already; the settling task and a webhook have not).
    if lock_order_id is not None:
        lock_order(lock_order_id)
    resolved = _resolve_and_ask_newest(attempt_id)
    assert resolved is not None
    attempt, newest = resolved
    now = utcnow()
    values = {
        "order_id": attempt.order_id,
        "provider": provider.provider_name(),
        "session_id": session.id,
        "checkout_url": session.url or "",
        "expires_at": attempt.expires_at,
        "attempt": attempt.number,
        "amount": request_total(attempt.request),
        "amount_refunded": 0,
        "amount_refund_pending": 0,
        "currency": str(attempt.request["currency"]).upper(),
        "status": PaymentStatus.PENDING,
        "failure_reason": "",
        "payment_intent": "",
        "created_at": now,
        "updated_at": now,
    }
    # Two of them at once: one row, and neither fails.
    statement = _payment_insert(db.engine.dialect.name, tuple(values))
    stored = db.session.scalars(statement, values).one_or_none()
    payment = stored or payment_for_session(session.id)
    assert payment is not None
    return Recorded(payment, stored is not None, newest)


@cache
def _payment_insert(dialect: str, columns: tuple[str, ...]) -> Any:
    """:func:`record_first`'s INSERT of ``columns``, built once per process and database
    (``dialect``: its name, as :func:`app.db.upsert` picks it), the values bound at each run."""
    return (
        upsert(Payment)
        .values(bound_values(Payment, columns))
        .on_conflict_do_nothing(index_elements=["session_id"])
        .returning(Payment)
        .execution_options(dml_strategy="orm")
    )


def is_current(order: Order, payment: Payment, *, newest: bool | None = None) -> bool:
    """The session the order is waiting on: the order is unpaid and this is its newest try.
    ``newest``: already known (:func:`record_first` says), else read from its attempts."""
    if newest is None:
        newest = payment.attempt >= max(
            (a.number for a in attempts_of(order)), default=payment.attempt
        )
    return waits_on(order.status, newest=newest)


def waits_on(status: str, *, newest: bool) -> bool:
    """Whether an order in ``status`` waits on a session that is its newest try (see
    :func:`is_current`)."""
    return status in UNPAID and newest


def live_payment(order: Order) -> Payment | None:
    """The order's newest session while it has comfortably long left, else None."""
    pending = [p for p in order.payments if p.status == PaymentStatus.PENDING and p.session_id]
    newest = max(pending, key=lambda p: p.attempt, default=None)
    if newest is None or not is_current(order, newest):
        return None
    if newest.expires_at is None or newest.expires_at - utcnow() < REUSE_MIN_LEFT:
        return None
    return newest


def close_checkout(order: Order) -> None:
    """Make sure no session of ``order`` stays payable: open ones are expired after the commit,
    and requests whose answer never came are settled by a task (found out, then expired)."""
    for payment in order.payments:
        if payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.EXPIRED
            expire_after_commit(payment.session_id)
    for attempt in attempts_of(order):
        if attempt.resolved_at is None:
            attempt_id = attempt.id
            after_commit(partial(tasks.settle_checkout_attempt, attempt_id))
    db.session.flush()


def expire_after_commit(session_id: str) -> None:
    """Close the session once this unit of work has committed, from a task (the offline
    sandbox keeps its sessions in the shop's database, so closing one is a write of its
    own)."""
    after_commit(partial(tasks.expire_checkout_session, session_id), key=f"expire:{session_id}")


def expire_quietly(session_id: str) -> CheckoutSession | None:
    """Expire at the provider; the session's own expiry and the sweeper cover a failure.

    A fresh idempotency key each time (the SDK's own retries reuse it): expiring is safe to
    repeat — an expired session stays expired — whereas a fixed key would replay a 500
    that Stripe saved for it for a day, leaving the session payable."""
    try:
        return provider.expire_checkout_session(
            session_id, idempotency_key=f"expire-{session_id}-{secrets.token_hex(6)}"
        )
    except PaymentError:
        log.warning("could not expire checkout session %s", session_id, exc_info=True)
        return None


def unresolved_attempts(*, older_than: timedelta = REPLAY_WINDOW, limit: int = 100) -> list[int]:
    """Requests whose answer was never recorded (a worker died mid-request, say)."""
    return list(
        db.session.execute(
            sa.select(CheckoutAttempt.id)
            .where(
                CheckoutAttempt.resolved_at.is_(None),
                CheckoutAttempt.created_at < utcnow() - older_than,
            )
            .order_by(CheckoutAttempt.id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class Unsettled:
    """An attempt whose answer never arrived: the request to send again, and whether the
    session it may have made has expired by now."""

    send: Send
    closed_by_now: bool


def unsettled(attempt_id: int) -> Unsettled | None:
    """What settling the attempt needs (None: already settled), read before the provider
    is asked (app/checkout/tasks.py sends it with no transaction open)."""
    attempt = db.session.get(CheckoutAttempt, attempt_id)
    if attempt is None or attempt.resolved_at is not None:
        return None
    return Unsettled(send_of(attempt), attempt.expires_at <= utcnow())


def record_settled(attempt_id: int, session: CheckoutSession) -> str | None:
    """Keep the session the request made. One that is not the session its order waits on
    is marked expired; its id is returned so the caller closes it at the provider."""
    attempt = db.session.get(CheckoutAttempt, attempt_id)
    if attempt is None:
        return None
    payment = record(attempt, session)  # locks the order, then the attempt
    order = db.session.get(Order, attempt.order_id)
    if payment.status == PaymentStatus.PENDING and (
        order is None or not is_current(order, payment)
    ):
        payment.status = PaymentStatus.EXPIRED
        return payment.session_id
    return None

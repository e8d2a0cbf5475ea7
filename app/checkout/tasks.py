"""Checkout in the background: Checkout Session requests whose answer never came are found
out, sessions of replaced orders are closed, and orders whose hold ran out are settled by
what the provider says. Every provider call here is made with no transaction open; the
steps around it are units of work of their own (app/checkout/sessions.py and completion.py
hold them)."""

from __future__ import annotations

import logging

from huey import crontab

from app.checkout import completion, sessions
from app.db import unit_of_work
from app.payments import provider
from app.payments.types import CheckoutSession, PaymentError, PaymentRejected, PaymentsUnavailable
from tasks.queue import periodic_job, shop_job

log = logging.getLogger(__name__)


@shop_job(retries=0)
def settle_checkout_attempt(attempt_id: int) -> str:
    """Not retried by Huey: the sweeper below settles whatever is still unanswered."""
    return settle_attempt(attempt_id)


@shop_job(retries=0)
def expire_checkout_session(session_id: str) -> None:
    """Close a session its order no longer waits on; its own expiry and the sweeper cover a
    provider that cannot be reached."""
    with unit_of_work():  # the offline sandbox keeps its sessions in the shop's database
        sessions.expire_quietly(session_id)


def settle_attempt(attempt_id: int) -> str:
    """Find out what became of a request whose answer never arrived by sending it again: same
    key and parameters, so Stripe replays the first answer, or creates the session now if the
    first request never got there. A session that is not the one its order waits on is
    expired at once.

    Returns "recorded", "none" (no session was ever made), "unknown" (the provider is down;
    the sweeper tries again) or "done" (already settled).
    """
    with unit_of_work():
        unsettled = sessions.unsettled(attempt_id)
    if unsettled is None:
        return "done"
    try:
        session = sessions.send(unsettled.send)
    except PaymentRejected as exc:
        # Had the first request made a session, the same key would have answered with it.
        log.info("checkout attempt %s made no session: %s", attempt_id, exc.detail or exc)
        with unit_of_work():
            sessions.resolve_attempt(attempt_id)
        return "none"
    except PaymentsUnavailable as exc:
        if exc.replayed or unsettled.closed_by_now:
            # Stripe answers with an error it saved for this key (it will for a day), or the
            # session the request may have made has expired by now: nothing more can be
            # learned, and nobody was given its address. A payment made in it anyway still
            # arrives by webhook and is found by the attempt it names.
            log.warning("checkout attempt %s given up: its outcome cannot be learned", attempt_id)
            with unit_of_work():
                sessions.resolve_attempt(attempt_id)
            return "none"
        return "unknown"
    with unit_of_work():
        stale = sessions.record_settled(attempt_id, session)
    if stale is not None:
        with unit_of_work():
            sessions.expire_quietly(stale)
    return "recorded"


def release_expired_checkouts(limit: int = 50) -> int:
    """Unpaid orders whose hold ran out are settled by what the provider says of each of
    their sessions — paid ones are completed, open ones expired, ones still clearing wait —
    and only an order with nothing left that could pay it is cancelled. An order the
    provider cannot be asked about waits for the next run. Returns how many were cancelled."""
    with unit_of_work():
        ids = completion.expired_checkouts(limit)
    cancelled = 0
    for order_id in ids:
        try:
            cancelled += _release(order_id)
        except PaymentError as exc:
            log.warning("checkout of order %s not settled yet: %s", order_id, exc.detail or exc)
        except Exception:  # one order that cannot be settled must not stop the others
            log.exception("checkout of order %s could not be settled", order_id)
    return cancelled


def _release(order_id: int) -> int:
    with unit_of_work():
        unanswered = completion.unanswered_attempts(order_id)
    if unanswered is None:
        return 0
    for attempt_id in unanswered:
        settle_attempt(attempt_id)
    with unit_of_work():
        pending = completion.pending_sessions(order_id)
    seen: dict[str, CheckoutSession] = {}
    for session_id in pending:
        session = provider.retrieve_checkout_session(session_id)
        if session.status == "open":
            with unit_of_work():
                session = sessions.expire_quietly(session_id) or session
        seen[session_id] = session
    with unit_of_work():
        return completion.settle_expired(order_id, seen)


@periodic_job(crontab(minute="*"))
def sweep_checkouts() -> int:
    """Every minute: settle unanswered session requests, then checkouts whose hold ran out.
    Each request and each order is settled on its own: one that fails is logged and the
    others still run."""
    with unit_of_work():
        unanswered = sessions.unresolved_attempts()
    for attempt_id in unanswered:
        try:
            settle_attempt(attempt_id)
        except Exception:
            log.exception("checkout sweep: attempt %s not settled", attempt_id)
    return len(unanswered) + release_expired_checkouts()

"""Periodic clean-up of expired carts, in batches; a used code taken off its cart."""

from __future__ import annotations

from huey import crontab

from app.cart import recovery, services
from app.cart.merge import purge_old_merges
from app.cart.services import purge_expired
from app.db import unit_of_work
from app.extensions import db
from app.orders.models import Order
from app.orders.services import cart_of
from tasks.queue import periodic_job, shop_task

BATCH = 500


@periodic_job(crontab(minute="17"))
def purge_expired_carts() -> int:
    """Expired carts, in batches; then the cart merges no recovery link can reach."""
    purged = 0
    while True:
        with unit_of_work():
            batch = purge_expired(batch_size=BATCH)
        purged += batch
        if batch < BATCH:
            break
    with unit_of_work():
        purge_old_merges()
    return purged


@shop_task(retries=3, retry_delay=5)
def forget_code(cart_id: int, code: str) -> None:
    """A paid order used the cart's code: the next order starts without it. After the
    payment's commit, in a transaction of its own: completing a payment holds the order's row
    and a checkout of the cart locks the cart before its orders, so the payment's transaction
    must not wait for the cart (PostgreSQL would find the two in a deadlock)."""
    services.forget_code(cart_id, code)


@shop_task(retries=3, retry_delay=5)
def recover_guest(order_id: int, recovery_url: str) -> bool:
    """The guest's recovery e-mail for an order whose checkout expired (app.cart.recovery),
    sent after the expiry's commit: claiming the cart there would take the cart's lock while
    the expiry holds the order's, the reverse of a checkout's order. Not sent when, by then,
    the order is no longer an expired checkout or a payment for it came (paid through the
    link, or refunded because the stock was gone), or the guest is paying again."""
    from app.checkout.revival import is_revival

    order = db.session.get(Order, order_id)
    if order is None or not is_revival(order):
        return False
    if order.needs_attention or any(p.fulfilled_at is not None for p in order.payments):
        return False  # a payment came (kept, or given back), or staff are looking into it
    return recovery.recover_guest(cart_of(order), email=order.email, recovery_url=recovery_url)


@periodic_job(crontab(minute="*/10"))
def remind_idle_carts() -> int:
    """The one reminder for each signed-in shopper's idle cart, in batches."""
    return remind_idle()


def remind_idle() -> int:
    reminded, after = 0, 0
    while True:
        with unit_of_work():
            ids = recovery.idle_carts(after=after)
            reminded += sum(1 for cart_id in ids if recovery.remind(cart_id))
        if len(ids) < recovery.BATCH:
            return reminded
        after = ids[-1]

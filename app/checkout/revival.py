"""A late payment revives an order cancelled because its checkout expired (a guest paying
through Stripe's recovery link, days later): what that does to the cart's newer checkouts.

:func:`prepare` takes the locks, :func:`sell` replaces the newer checkouts and makes the
sale, :func:`paid_twice` finds what staff should hear about;
:func:`app.checkout.completion.complete_session` calls them in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.accounts.audit import audit
from app.cart.models import Cart, CartMerge
from app.checkout import sessions
from app.db import savepoint
from app.extensions import db
from app.inventory.services import lock_stock
from app.orders.models import CancelReason, Order, OrderLine, OrderStatus
from app.orders.services import (
    PaidOutcome,
    cancel_unpaid,
    cart_of,
    commit_sale,
    placed_from,
)
from app.orders.states import PAID_STATES, UNPAID

# Paid and not given back: an order refunded or returned since does not make a second purchase.
KEPT = sorted(PAID_STATES - {OrderStatus.REFUNDED, OrderStatus.RETURNED})


@dataclass
class Revival:
    cart: Cart | None  # the cart the shopper uses now (locked): what was bought leaves it
    variants: list[int]  # what the revived order bought
    theirs: sa.ColumnElement[bool] | None = None  # which orders are the same shopper's
    newer: list[Order] = field(default_factory=list)  # unpaid, for some of the same, locked


def is_revival(order: Order) -> bool:
    return order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.EXPIRED


def revivable() -> sa.ColumnElement[bool]:
    """:func:`is_revival` as a condition on orders: the ones a late payment would revive."""
    return sa.and_(
        Order.status == OrderStatus.CANCELLED, Order.cancel_reason == CancelReason.EXPIRED
    )


def _shopper(order: Order) -> tuple[Cart | None, sa.ColumnElement[bool] | None]:
    """The cart the shopper who placed ``order`` uses now, and which of their orders count as
    that shopper's. Usually the cart the order was placed from and its orders. When the guest
    has signed in since (app.cart.models.CartMerge): the account's cart, and the orders the
    merge carried into the account (the guest cart's unpaid ones: same token hash) or the
    account placed after the merge (from whichever cart it has had since) — never what the
    account did before, which may be another person's on a shared computer.

    Placed "after" by the clocks of the app instances that wrote the two times: an order
    pressed on another instance within its clock's skew of the merge may count either way."""
    cart = cart_of(order)
    if cart is not None:
        return cart, placed_from(cart)
    if order.user_id is not None or not order.cart_token_hash:
        return None, None
    merge = db.session.execute(
        sa.select(CartMerge)
        .where(CartMerge.token_hash == order.cart_token_hash)
        .order_by(CartMerge.id)
        .limit(1)
    ).scalar()
    if merge is None:
        return None, None
    carried = sa.and_(
        Order.user_id == merge.user_id, Order.cart_token_hash == order.cart_token_hash
    )
    since = sa.and_(Order.user_id == merge.user_id, Order.created_at >= merge.merged_at)
    account = db.session.execute(sa.select(Cart).where(Cart.user_id == merge.user_id)).scalar()
    return account, sa.or_(carried, since)


def _locked(cart: Cart) -> bool:
    """Lock ``cart`` as a press does; False when it is gone (merged into an account, or
    purged, while this looked), and then forgotten by the session, so that looking again
    reads the database instead of the session's copy."""
    found = db.session.execute(
        sa.select(Cart.id).where(Cart.id == cart.id).with_for_update(key_share=True)
    ).first()
    if found is None:
        db.session.expunge(cart)
    return found is not None


def prepare(order: Order) -> Revival:
    """Lock what the revival may change, in the lock order: the cart (as a press locks it; no
    path that holds a cart waits for a cancelled order, so the order held already is safe),
    its orders placed after ``order``, unpaid and for some of the same items (newest first),
    then the stock of all of them. With the cart held, a press under way has either committed
    its order, which this finds, or not begun. The cart is the one the shopper uses now: the
    account's when the guest has signed in since (:func:`_shopper`); a cart that went while
    this looked (merged at a sign-in) is looked for again."""
    variants = sorted({ln.variant_id for ln in order.lines if ln.variant_id is not None})
    cart, theirs = _shopper(order)
    if cart is not None and not _locked(cart):
        cart, theirs = _shopper(order)  # merged into an account as this looked: look again
        if cart is not None and not _locked(cart):
            cart = None
    revival = Revival(cart, variants, theirs)
    if theirs is None or not variants:
        return revival
    ids = list(
        db.session.execute(
            sa.select(Order.id)
            .where(
                theirs,
                Order.id > order.id,
                Order.status.in_(UNPAID),
                Order.id.in_(
                    sa.select(OrderLine.order_id).where(OrderLine.variant_id.in_(variants))
                ),
            )
            .order_by(Order.id.desc())
            .with_for_update(key_share=True, of=Order)
        ).scalars()
    )
    if ids:
        revival.newer = list(
            db.session.execute(
                sa.select(Order)
                .where(Order.id.in_(ids))
                .order_by(Order.id.desc())
                .options(selectinload(Order.lines))
                .execution_options(populate_existing=True)
            ).scalars()
        )
        # Their stock is released by sell(): all of it locked up front.
        lock_stock([ln.variant_id for o in (order, *revival.newer) for ln in o.lines])
    return revival


class _NotSold(Exception):
    """The revived order could not be sold even with the newer checkouts out of the way."""


def sell(order: Order, revival: Revival | None) -> PaidOutcome:
    """:func:`app.orders.services.commit_sale` for a paid order. For a revival, the newer
    checkouts :func:`prepare` found go first: they are the same shopper's, for some of the
    same items, and must not stay payable beside the revived order — and they may hold the
    very units it needs. Each is cancelled as replaced (its stock released, its sessions
    closed after the commit; the shopper pays what is left in the cart afresh). When the sale
    still cannot be made (the stock went elsewhere), all of that is undone: the payment is
    given back and the newer checkouts stay payable."""
    if revival is None or not revival.newer:
        return commit_sale(order)
    try:
        with savepoint():
            for other in revival.newer:
                sessions.close_checkout(other)
                # The note shows on the order's page: an account's order does not name a
                # guest order (staff find it in the audit log).
                paid = f"order {order.number}" if other.user_id == order.user_id else "an order"
                cancel_unpaid(
                    other,
                    note=f"replaced: {paid} of the same cart was paid through its expired checkout",
                    reason=CancelReason.REPLACED,
                )
                audit(
                    "order.replaced",
                    target=other.number,
                    detail=f"order {order.number} of the same shopper was paid through its "
                    "expired checkout",
                )
            outcome = commit_sale(order)
            if not outcome.fulfilled:
                raise _NotSold
        return outcome
    except _NotSold:
        return commit_sale(order)  # as it stands: flagged for the refund


def paid_twice(order: Order, revival: Revival) -> list[str]:
    """After ``order`` was revived: the numbers of the shopper's newer orders already paid for
    some of the same items, for staff — buying twice may be meant, so nothing is refunded on
    a guess."""
    if revival.theirs is None or not revival.variants:
        return []
    return list(
        db.session.execute(
            sa.select(Order.number)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(
                revival.theirs,
                Order.id > order.id,
                Order.status.in_(KEPT),
                OrderLine.variant_id.in_(revival.variants),
            )
            .distinct()
            .order_by(Order.number)
        ).scalars()
    )

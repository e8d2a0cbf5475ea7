"""A guest cart joining an account's cart at sign-in (both doors: the website's sign-in
and the API's token grants), and the record of it that a late payment of one of the guest
cart's expired checkouts needs (app.checkout.revival)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.cart.models import Cart, CartMerge, SavedItem
from app.cart.queries import own_reservations
from app.cart.services import CartError, add_item, get_or_create_cart
from app.db import affected, upsert, utcnow
from app.extensions import db
from app.promotions.models import OrderDiscount


def merge_guest_cart(guest: Cart, user_id: int) -> list[str]:
    """On sign-in: quantities add up, then limits and stock apply; says what happened.

    What the guest is paying for right now comes along: the guest cart's unpaid orders
    (awaiting payment, or a payment that failed) become the account's, whatever email was
    typed at checkout, so the app keeps polling the order it is paying for with its new
    bearer token and the account lists it. They leave the cart (``cart_id`` cleared): their
    lines do not move into the account's cart (below), so they must neither count as that
    cart's own reservation, nor be replaced by its next checkout, nor empty it when paid.
    Orders already paid (or cancelled) stay guest orders, reachable by their emailed link
    only: on a shared computer, the next person to sign in must not get them. When one of
    them is a checkout that expired, which Stripe's recovery link can still pay, the merge
    is recorded (``CartMerge``): paid late, it then finds the orders this merge carried into
    the account and the account's checkouts pressed since (app.checkout.revival), as it
    would have found the guest cart's.

    The guest cart is locked first and read again: two sign-ins of one browser at once (two
    tabs, the web and the app) merge it once, and a late payment reviving one of its orders
    (app.checkout.revival) waits for the merge and then finds the account.

    Units that an unpaid order of the guest cart still holds are not merged. They are being
    paid for, perhaps in a browser tab right now, and copying them would invite paying for
    them twice; paying the order then has nothing to clear. Should that order be abandoned
    instead, its reservation lapses and the shopper adds the items again.
    """
    from app.checkout.revival import revivable
    from app.orders.models import Order
    from app.orders.services import cart_token_hash, holding_stock, placed_from

    still_there = db.session.execute(
        sa.select(Cart.id).where(Cart.id == guest.id, Cart.token == guest.token).with_for_update()
    ).first()
    if still_there is None:
        return []  # merged by another sign-in a moment ago
    db.session.expire(guest, ["lines", "voucher_code"])
    target = get_or_create_cart(user_id=user_id, token=None)
    messages: list[str] = []
    covered = own_reservations(guest)
    waiting = list(
        db.session.execute(
            sa.select(Order.number).where(placed_from(guest), holding_stock()).order_by(Order.id)
        ).scalars()
    )
    moving = sa.select(Order.id).where(placed_from(guest), holding_stock()).scalar_subquery()
    db.session.execute(  # their held code uses are the account's too (per-customer limits)
        sa.update(OrderDiscount)
        .where(OrderDiscount.order_id.in_(moving))
        .values(user_id=user_id)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(Order)
        .where(placed_from(guest), holding_stock())
        .values(user_id=user_id, cart_id=None)
        .execution_options(synchronize_session=False)
    )
    moved = 0
    held_back = False
    for line in list(guest.lines):
        quantity = line.quantity - covered.get(line.variant_id, 0)
        if quantity < line.quantity:
            held_back = True
        if quantity < 1:
            continue
        try:
            change = add_item(target, line.variant_id, quantity)
        except CartError as exc:
            messages.append(str(exc))
            continue
        moved += 1
        messages.extend(change.messages)
    saved = db.session.execute(sa.select(SavedItem).where(SavedItem.cart_id == guest.id)).scalars()
    for item in saved:
        db.session.execute(
            upsert(SavedItem)
            .values(user_id=user_id, variant_id=item.variant_id, created_at=item.created_at)
            .on_conflict_do_nothing(index_elements=["user_id", "variant_id"])
        )
    if guest.voucher_code and not target.voucher_code:
        target.voucher_code = guest.voucher_code  # the code typed before signing in comes too
    if (
        guest.token
        and db.session.execute(
            sa.select(Order.id).where(placed_from(guest), revivable()).limit(1)
        ).first()
    ):
        db.session.add(CartMerge(user_id=user_id, token_hash=cart_token_hash(guest.token)))
    db.session.delete(guest)
    db.session.flush()
    if held_back:
        label = "order" if len(waiting) == 1 else "orders"
        messages.append(
            f"Items waiting for payment in your {label} {', '.join(waiting)} were not added "
            "to your cart again."
        )
    if moved:
        messages.insert(
            0,
            f"We added {moved} item{'s' if moved != 1 else ''} from before you "
            "signed in to your cart.",
        )
    return messages


# A merge matters while the guest's recovery link can still be paid: Stripe keeps it 30 days
# after the checkout expired, which was before the merge.
MERGES_KEPT = timedelta(days=31)


def purge_old_merges() -> int:
    """Forget cart merges no recovery link can reach any more."""
    return affected(sa.delete(CartMerge).where(CartMerge.merged_at < utcnow() - MERGES_KEPT))

"""Staff switch a variant's stock tracking while a shopper is paying: the payment and the
cancellation act on what the order's reservation really held (the stock ledger), so the
webhook never fails on a constraint and the counts stay true."""

from __future__ import annotations

import sqlalchemy as sa

from app.catalog.models import StockMovement, Variant
from app.catalog.services import update_variant
from app.db import commit_unit_of_work
from app.orders.models import CancelReason, OrderStatus
from app.orders.services import cancel_unpaid
from app.payments.models import WebhookEvent
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, latest_order, pay, sandbox_action, submit_details


def stock(db, variant_id):
    db.session.expire_all()
    variant = db.session.get(Variant, variant_id)
    return variant.stock_on_hand, variant.reserved


def switch_tracking(db, variant_id, on):
    variant = db.session.get(Variant, variant_id)
    update_variant(
        variant, sku=variant.sku, options=variant.options, price=variant.price, track_inventory=on
    )
    commit_unit_of_work()


def checkout(client, db, *, tracked):
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    variant.track_inventory = tracked
    commit_unit_of_work()
    add_to_cart(client, variant.id, 2)
    submit_details(client)
    return variant.id, pay(client).headers["Location"]


def ledger(db, variant_id):
    return db.session.execute(
        sa.select(StockMovement.reason, StockMovement.on_hand_delta, StockMovement.reserved_delta)
        .where(StockMovement.variant_id == variant_id, StockMovement.reference != "")
        .order_by(StockMovement.id)
    ).all()


def test_tracking_switched_off_while_paying_still_sells_what_was_held(client, db):
    variant_id, session_url = checkout(client, db, tracked=True)
    assert stock(db, variant_id) == (5, 2)
    switch_tracking(db, variant_id, False)
    sandbox_action(client, session_url, "pay")
    assert latest_order().status == OrderStatus.PAID
    assert stock(db, variant_id) == (3, 0)
    assert [tuple(r) for r in ledger(db, variant_id)] == [("reservation", 0, 2), ("sale", -2, -2)]
    assert db.session.execute(sa.select(WebhookEvent.status)).scalars().all() == ["processed"]


def test_tracking_switched_on_while_paying_sells_without_touching_stock(client, db):
    variant_id, session_url = checkout(client, db, tracked=False)
    assert stock(db, variant_id) == (5, 0)  # nothing held, no ledger line
    switch_tracking(db, variant_id, True)
    sandbox_action(client, session_url, "pay")
    assert latest_order().status == OrderStatus.PAID
    assert stock(db, variant_id) == (5, 0)
    assert ledger(db, variant_id) == []
    assert db.session.execute(sa.select(WebhookEvent.status)).scalars().all() == ["processed"]


def test_tracking_switched_off_then_the_checkout_expires_gives_the_units_back(client, db):
    variant_id, _ = checkout(client, db, tracked=True)
    switch_tracking(db, variant_id, False)
    cancel_unpaid(latest_order(), note="checkout expired unpaid", reason=CancelReason.EXPIRED)
    commit_unit_of_work()
    assert stock(db, variant_id) == (5, 0)
    assert [tuple(r) for r in ledger(db, variant_id)] == [("reservation", 0, 2), ("release", 0, -2)]

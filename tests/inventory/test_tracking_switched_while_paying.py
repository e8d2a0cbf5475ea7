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


def test_a_ledger_line_from_before_the_rule_never_fails_the_payment(client, db, caplog):
    """Before the ledger was the rule, reserving an untracked variant wrote a reservation
    line without reserving anything. An order placed then and paid after the upgrade is
    sold without touching stock (and without an error that would dead-letter its webhook)."""
    from app.inventory.services import release, sell

    variant = factories.product("Old Mug", stock=5).variants[0]
    variant.track_inventory = False
    db.session.add(
        StockMovement(
            variant_id=variant.id, reserved_delta=2, reason="reservation", reference="SS-OLD0-0001"
        )
    )
    commit_unit_of_work()
    sell([(variant.id, 2)], reference="SS-OLD0-0001")
    release([(variant.id, 2)], reference="SS-OLD0-0001")
    commit_unit_of_work()
    assert stock(db, variant.id) == (5, 0)
    assert "SS-OLD0-0001 holds 2 of variant" in caplog.text


def test_a_refund_puts_back_only_what_the_sale_took_off_the_shelf(client, db):
    """Reserved and sold while untracked, tracked since: the sale took nothing off the shelf,
    so refunding it with restock creates no stock that never existed."""
    from app.orders.refunds import issue_refund

    variant_id, session_url = checkout(client, db, tracked=False)
    sandbox_action(client, session_url, "pay")
    switch_tracking(db, variant_id, True)
    order = latest_order()
    issue_refund(order, lines={order.lines[0].id: 2}, restock=True, reason="test")
    commit_unit_of_work()
    assert stock(db, variant_id) == (5, 0)
    assert ledger(db, variant_id) == []

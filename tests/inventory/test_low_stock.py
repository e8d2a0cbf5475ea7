"""Low-stock alerts: one per downward crossing of a variant's threshold, whoever crosses it
(a checkout's reservation, a staff adjustment or count, an import), one email per unit of
work, and exactly one when shoppers race across the line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.catalog.models import Product, StockMovement, Variant
from app.db import commit_unit_of_work, rollback_unit_of_work, unit_of_work
from app.extensions import db as _db
from app.inventory.services import (
    InsufficientStock,
    adjust_stock,
    release,
    reserve,
    sell,
    set_stock_count,
)
from app.notifications.models import Notification
from tests.catalog import factories
from tests.concurrency import run_at_once

STAFF = "ops@example.com"


@pytest.fixture
def staff_alerts(app, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", [STAFF])


def alerts() -> list[Notification]:
    return list(
        _db.session.execute(
            sa.select(Notification)
            .where(Notification.template == "low-stock")
            .order_by(Notification.id)
        ).scalars()
    )


def variant_with(stock: int, threshold: int = 5, **kwargs) -> Variant:
    variant = factories.product(stock=stock, **kwargs).variants[0]
    variant.low_stock_threshold = threshold
    commit_unit_of_work()
    return variant


def test_each_downward_crossing_alerts_once(db, staff_alerts):
    variant = variant_with(10)
    for delta, expected in [(-4, 0), (-1, 1), (-2, 1), (+5, 1), (-4, 2), (-1, 2)]:
        adjust_stock(variant.id, delta, note="test")
        commit_unit_of_work()
        assert len(alerts()) == expected, (delta, expected)
    first, second = alerts()
    assert first.to_address == STAFF
    assert first.variables["items"] == [
        {"sku": variant.sku, "product_name": variant.product.name, "available": 5, "threshold": 5}
    ]
    assert second.variables["items"][0]["available"] == 4


def test_a_checkout_crosses_when_it_reserves_and_the_sale_changes_nothing(db, staff_alerts):
    variant = variant_with(7)
    reserve(variant.id, 2, reference="SS-TEST-0001")  # 7 -> 5 available: crossed
    commit_unit_of_work()
    assert len(alerts()) == 1
    sell([(variant.id, 2)], reference="SS-TEST-0001")  # on hand and reserved both go down
    commit_unit_of_work()
    reserve(variant.id, 1, reference="SS-TEST-0002")  # further below: no new crossing
    release([(variant.id, 1)], reference="SS-TEST-0002")
    commit_unit_of_work()
    assert len(alerts()) == 1
    assert alerts()[0].variables["items"][0]["available"] == 5


def test_a_count_that_crosses_alerts_and_an_untracked_variant_never_does(db, staff_alerts):
    counted = variant_with(9)
    untracked = variant_with(9)
    untracked.track_inventory = False
    commit_unit_of_work()
    assert set_stock_count(counted.id, 2, note="shelf count") == -7
    reserve(untracked.id, 8, reference="SS-TEST-0003")
    adjust_stock(untracked.id, -8, note="test")
    commit_unit_of_work()
    [alert] = alerts()
    assert [item["sku"] for item in alert.variables["items"]] == [counted.sku]


def test_one_email_for_everything_one_unit_of_work_crossed(db, staff_alerts):
    first, second, third = variant_with(6), variant_with(6), variant_with(20)
    for variant in (first, second, third):
        adjust_stock(variant.id, -3, note="import")
    commit_unit_of_work()
    [alert] = alerts()
    assert sorted(item["sku"] for item in alert.variables["items"]) == sorted(
        [first.sku, second.sku]
    )
    assert "and 1 more" in _subject(alert)


def test_a_rolled_back_or_refused_change_alerts_nobody(db, staff_alerts):
    variant = variant_with(6)
    adjust_stock(variant.id, -3, note="undone")
    rollback_unit_of_work()
    commit_unit_of_work()
    assert alerts() == []
    with pytest.raises(InsufficientStock):  # refused: nothing written, nothing crossed
        adjust_stock(variant.id, -7, note="too many")
    commit_unit_of_work()
    assert alerts() == []


def test_a_variant_restocked_before_the_alert_is_sent_is_left_out(db, staff_alerts):
    from app.inventory.alerts import alert_low_stock

    restocked, still_low = variant_with(12), variant_with(2)
    assert alert_low_stock([restocked.id, still_low.id]) == 1
    [alert] = alerts()
    assert [item["sku"] for item in alert.variables["items"]] == [still_low.sku]
    assert alert_low_stock([restocked.id]) == 0


def test_no_alert_without_staff_addresses(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", [])
    variant = variant_with(6)
    adjust_stock(variant.id, -3, note="quiet")
    commit_unit_of_work()
    assert alerts() == []


def _subject(notification: Notification) -> str:
    from app.notifications.rendering import render

    return render(notification).subject


BUYERS = 6


def test_shoppers_racing_across_the_threshold_raise_it_once(app, staff_alerts):
    """Six reservations at the same instant take 8 available units to 2: the line at 5 is
    crossed by exactly one of them, on SQLite and on PostgreSQL."""
    with app.app_context(), unit_of_work():
        variant = factories.product("Racing Lamps", stock=8).variants[0]
        variant.low_stock_threshold = 5
        product_id, variant_id = variant.product_id, variant.id

    def buyer(index: int) -> str:
        with unit_of_work():
            reserve(variant_id, 1, reference=f"SS-RACE-{index:04d}")
        return "held"

    try:
        outcomes = run_at_once(app, BUYERS, buyer)
        assert outcomes == ["held"] * BUYERS
        with app.app_context():
            assert len(alerts()) == 1
    finally:
        with app.app_context(), unit_of_work():
            _db.session.execute(sa.delete(Notification))
            _db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            _db.session.execute(sa.delete(Product).where(Product.id == product_id))

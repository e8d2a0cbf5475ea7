import pytest
import sqlalchemy as sa

from app.catalog.models import StockMovement, Variant
from app.db import utcnow
from app.orders.models import CancelReason, OrderStatus
from app.orders.services import (
    CheckoutError,
    cancel_unpaid,
    commit_sale,
    list_expired_reservations,
    release_reservation,
)
from app.orders.states import InvalidTransition, transition
from tests.catalog import factories
from tests.orders.helpers import order_for


def stock(db, variant):
    db.session.expire_all()
    row = db.session.get(Variant, variant.id)
    return row.stock_on_hand, row.reserved


def movements(db, variant):
    return db.session.execute(
        sa.select(StockMovement.reason, StockMovement.on_hand_delta, StockMovement.reserved_delta)
        .where(StockMovement.variant_id == variant.id)
        .order_by(StockMovement.id)
    ).all()


def test_placing_an_order_reserves_stock_and_snapshots_lines(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 2)])
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.number.startswith("SS-") and len(order.number) == 12
    assert stock(db, mug) == (5, 2)
    [line] = order.lines
    assert (line.product_name, line.sku, line.unit_price, line.quantity, line.line_total) == (
        "Mug",
        mug.sku,
        1500,
        2,
        3000,
    )
    assert order.reservation_expires_at > utcnow()
    assert [e.to_status for e in order.events] == ["pending_payment"]


def test_one_short_line_reserves_nothing_and_says_which(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    lamp = factories.product("Rare Lamp", price=9000, stock=1).variants[0]
    with pytest.raises(CheckoutError, match="not enough Rare Lamp left"):
        order_for([(mug, 2), (lamp, 2)])
    assert stock(db, mug) == (5, 0)
    assert stock(db, lamp) == (1, 0)


def test_payment_turns_the_reservation_into_a_sale_once(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 2)])
    assert commit_sale(order).fulfilled is True
    assert order.status == OrderStatus.PAID and order.paid_at
    assert stock(db, mug) == (3, 0)
    assert commit_sale(order).fulfilled is False  # a duplicate confirmation changes nothing
    assert stock(db, mug) == (3, 0)
    assert movements(db, mug) == [("initial", 5, 0), ("reservation", 0, 2), ("sale", -2, -2)]


def test_cancelling_releases_the_reservation_exactly_once(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 3)])
    assert cancel_unpaid(order, note="abandoned", reason=CancelReason.EXPIRED) is True
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "expired")
    assert stock(db, mug) == (5, 0)
    assert release_reservation(order) is False
    assert cancel_unpaid(order, note="again", reason=CancelReason.EXPIRED) is False
    assert stock(db, mug) == (5, 0)


def test_a_paid_order_never_goes_back(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 1)])
    commit_sale(order)
    assert cancel_unpaid(order, note="late expiry", reason=CancelReason.EXPIRED) is False
    with pytest.raises(InvalidTransition):
        transition(order, OrderStatus.PENDING_PAYMENT)
    assert release_reservation(order) is False
    assert stock(db, mug) == (4, 0)


def test_payment_after_expiry_reserves_again_when_stock_allows(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 2)])
    cancel_unpaid(order, note="checkout expired", reason=CancelReason.EXPIRED)
    assert stock(db, mug) == (5, 0)
    outcome = commit_sale(order)  # the provider had accepted the payment after all
    assert outcome.fulfilled and not outcome.needs_refund
    assert (order.status, order.cancel_reason) == (OrderStatus.PAID, "")
    assert order.events[-1].note == "payment confirmed after the checkout had expired"
    assert stock(db, mug) == (3, 0)


def test_payment_after_expiry_without_stock_is_flagged_for_refund(db):
    lamp = factories.product("Lamp", price=9000, stock=1).variants[0]
    first = order_for([(lamp, 1)])
    cancel_unpaid(first, note="checkout expired", reason=CancelReason.EXPIRED)
    order_for([(lamp, 1)], email="bob@example.com")  # someone else took the last one
    outcome = commit_sale(first)
    assert outcome.needs_refund and not outcome.fulfilled
    assert first.status == OrderStatus.CANCELLED
    assert first.needs_attention.startswith("Paid after its reservation expired")
    assert stock(db, lamp) == (1, 1)  # never oversold


@pytest.mark.parametrize("reason", [CancelReason.REPLACED, CancelReason.STAFF])
def test_payment_for_an_order_cancelled_on_purpose_is_never_kept(db, reason):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 2)])
    cancel_unpaid(order, note="replaced or cancelled", reason=reason)
    outcome = commit_sale(order)
    assert outcome.needs_refund and not outcome.fulfilled
    assert order.status == OrderStatus.CANCELLED
    assert stock(db, mug) == (5, 0)


def test_expired_reservations_are_found(db):
    mug = factories.product("Mug", price=1500, stock=5).variants[0]
    order = order_for([(mug, 1)])
    assert list_expired_reservations() == []
    order.reservation_expires_at = utcnow().replace(year=2020)
    db.session.flush()
    assert list_expired_reservations() == [order]

"""New rows written with plain INSERTs and held by the session as read (app/db_rows.py): what
a press of Pay writes its new order with."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.db_rows import insert_new
from app.orders.models import Order, OrderEvent, OrderLine
from app.orders.services import order_rows


def _order(lines: int = 3) -> Order:
    order = Order(
        number=f"SS-{uuid.uuid4().hex[:4]}-{uuid.uuid4().hex[:4]}".upper(),
        email="rows@example.com",
        currency="EUR",
        subtotal=100 * lines,
        total=100 * lines,
        shipping_address={"city": "Dublin"},
        billing_address={},
        discounts=[],
        payments=[],
    )
    for i in range(lines):
        order.lines.append(
            OrderLine(
                product_name=f"Mug {i}", sku=f"MUG-{i}", unit_price=100, quantity=1, line_total=100
            )
        )
    OrderEvent(order=order, to_status="pending_payment", note="order placed")
    return order


def _inserts(count_queries) -> list[str]:
    return [s.split("(")[0].strip() for s in count_queries.statements if s.startswith("INSERT")]


def test_an_order_and_its_rows_are_one_insert_per_table_and_held_as_read(db, count_queries):
    order = _order(lines=3)
    insert_new(order_rows(order))
    # PostgreSQL: the three lines in one statement. SQLite cannot say which RETURNING row is
    # which line in a multi-row INSERT, so SQLAlchemy sends it a row at a time (in-process).
    lines = 1 if db.engine.dialect.name == "postgresql" else 3
    assert _inserts(count_queries) == [
        "INSERT INTO orders",
        *["INSERT INTO order_lines"] * lines,
        "INSERT INTO order_events",
    ]
    assert all(sa.inspect(o).persistent for o in order_rows(order))
    assert not db.session.new and not db.session.dirty
    written = count_queries.count
    db.session.flush()  # nothing left for the unit of work to write
    assert count_queries.count == written
    assert {line.order_id for line in order.lines} == {order.id}
    assert order.events[0].order_id == order.id
    rows = db.session.execute(
        sa.select(OrderLine.id, OrderLine.product_name)
        .where(OrderLine.order_id == order.id)
        .order_by(OrderLine.id)
    ).all()
    assert rows == [(line.id, line.product_name) for line in order.lines]  # keys in row order
    # What was left to the column's default is read from the row when first asked for.
    assert order.carrier == "" and order.status == "pending_payment"
    assert db.session.get(Order, order.id) is order


def test_a_new_object_left_off_the_list_is_refused_before_a_row_is_written(db, count_queries):
    order = _order(lines=2)
    with pytest.raises(ValueError, match="not among the objects to insert"):
        insert_new([order, *order.lines])  # its event is new too
    assert _inserts(count_queries) == []
    assert order not in db.session


def test_a_parent_listed_after_its_child_is_refused(db, count_queries):
    order = _order(lines=1)
    with pytest.raises(ValueError, match="must be listed before"):
        insert_new([*order.events, order, *order.lines])
    assert _inserts(count_queries) == []


def test_rows_rolled_back_leave_the_session_and_their_ids_can_be_used_again(db):
    order = _order(lines=2)
    with pytest.raises(RuntimeError), db.session.begin_nested():
        insert_new(order_rows(order))
        order_id = order.id
        assert order in db.session
        raise RuntimeError("reservation refused")
    assert all(sa.inspect(o).transient for o in order_rows(order))
    assert order.lines[0].product_name == "Mug 0"
    assert db.session.get(Order, order_id) is None
    again = _order(lines=1)  # SQLite may give it the same id: no clash with a ghost
    insert_new(order_rows(again))
    assert db.session.get(Order, again.id) is again


def test_rows_of_a_transaction_rolled_back_whole_leave_the_session(db):
    """The usual first press of Pay: nothing written before, so a refusal rolls back the
    whole transaction, not a savepoint."""
    order = _order(lines=2)
    insert_new(order_rows(order))
    order_id = order.id
    db.session.rollback()
    # New again, as the objects a flush inserted become: out of the session, values kept.
    assert all(sa.inspect(o).transient for o in order_rows(order))
    assert [line.product_name for line in order.lines] == ["Mug 0", "Mug 1"]
    assert db.session.get(Order, order_id) is None


def test_rows_committed_stay_in_the_session_and_a_later_rollback_keeps_them(db):
    order = _order(lines=1)
    insert_new(order_rows(order))
    db.session.commit()
    later = _order(lines=1)
    insert_new(order_rows(later))
    db.session.rollback()
    assert order in db.session and db.session.get(Order, order.id) is order
    assert later not in db.session


def test_objects_already_stored_are_refused(db):
    order = _order(lines=1)
    insert_new(order_rows(order))
    with pytest.raises(ValueError, match="not a new object"):
        insert_new([order])

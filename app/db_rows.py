"""New rows written with plain INSERTs, then held by the session as if just read.

A press of Pay writes a new order's rows (the order, its lines, discounts and first event, its
checkout attempt) in the middle of the burst every sale brings. SQLAlchemy's unit of work
does that in one flush, but the flush's bookkeeping (sorting the objects by dependency,
collecting each one's history, post-fetching its keys) cost more than the five INSERTs
themselves: a fifth of a paying press's CPU (docs/performance.md). :func:`insert_new` writes
the same objects with one INSERT per table (the lines of an order in one statement), and then
hands them to the session as persistent objects with nothing to flush
(:func:`sqlalchemy.orm.make_transient_to_detached`, SQLAlchemy's own way of building a
persistent object "without emitting SQL"). What was not set on an object (a column left to its
default) is expired, and read from the row when first asked for.

The caller lists the objects parents first; the foreign keys between them are filled in from
their relationships as each parent's key comes back. Anything the objects lead to through a
relationship that was not listed (a new object added to them later, say) is refused before a
row is written, instead of being left for the next flush to write twice.

When the transaction (or savepoint) that wrote them rolls back, they leave the session, as
the objects a flush inserted do: nothing later finds them in its identity map with their rows
gone (SQLite hands a rolled-back row's id out again).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import MANYTOONE, ONETOMANY, make_transient_to_detached
from sqlalchemy.orm.state import InstanceState

from app.db import ShopSession
from app.extensions import db


def insert_new(objects: Sequence[Any]) -> None:
    """INSERT ``objects`` (new, not in any session; parents before their children), one
    statement per run of objects of the same class with the same attributes set, then put
    them in the session as persistent and unchanged. Their primary keys, and the foreign
    keys of the relationships between them, are set from the rows written."""
    states = [sa.inspect(obj) for obj in objects]
    listed = {id(state) for state in states}
    for state in states:
        if state.key is not None or state.session_id is not None:
            raise ValueError(f"{state.object!r} is not a new object")
        _refuse_unlisted(state, listed)
    start = 0
    while start < len(states):
        end = start + 1
        keys = _set_columns(states[start])
        while (
            end < len(states)
            and states[end].mapper is states[start].mapper
            and _set_columns(states[end]) == keys
        ):
            end += 1
        _insert_run(states[start:end])
        start = end
    for state in states:
        make_transient_to_detached(state.object)
    session = db.session()
    for state in states:
        session.add(state.object)
    written = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_WRITTEN, []).append((written, [s.object for s in states]))


_WRITTEN = "shop_rows_inserted"


@sa.event.listens_for(ShopSession, "after_soft_rollback")
def _drop_rolled_back(session: Any, previous_transaction: Any) -> None:
    """Objects :func:`insert_new` wrote in the transaction rolled back (or in one inside it)
    leave the session."""
    kept = []
    for written, objects in session.info.get(_WRITTEN, ()):
        if _within(written, previous_transaction):
            for obj in objects:
                if obj in session:
                    session.expunge(obj)
        else:
            kept.append((written, objects))
    session.info[_WRITTEN] = kept


@sa.event.listens_for(ShopSession, "after_transaction_end")
def _forget_written(session: Any, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)


def _within(transaction: Any, outer: Any) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _refuse_unlisted(state: InstanceState[Any], listed: set[int]) -> None:
    for prop in state.mapper.relationships:
        value = state.dict.get(prop.key)
        if value is None:
            continue
        related = value if prop.uselist else [value]
        for obj in related:
            other = sa.inspect(obj)
            if other.key is None and id(other) not in listed:
                raise ValueError(
                    f"{obj!r} (through {state.class_.__name__}.{prop.key}) is new and not "
                    "among the objects to insert"
                )


def _set_columns(state: InstanceState[Any]) -> tuple[str, ...]:
    """The attributes set on a new object that are columns of its table (its key when set)."""
    return tuple(
        attr.key
        for attr in state.mapper.column_attrs
        if attr.key in state.dict and not _unset_key(state, attr)
    )


def _unset_key(state: InstanceState[Any], attr: Any) -> bool:
    return attr.columns[0].primary_key and state.dict[attr.key] is None


def _insert_run(states: Sequence[InstanceState[Any]]) -> None:
    for state in states:
        _fill_from_parents(state)
    mapper = states[0].mapper
    table: Any = mapper.local_table
    names = _set_columns(states[0])
    rows = [{_column_key(mapper, name): state.dict[name] for name in names} for state in states]
    result = db.session.execute(_insert(table), rows if len(rows) > 1 else rows[0])
    for state, key in zip(states, result.all(), strict=True):  # a key for every row
        for column, value in zip(table.primary_key.columns, key, strict=True):
            state.dict[mapper.get_property_by_column(column).key] = value
        _fill_children(state)


def _column_key(mapper: Any, name: str) -> str:
    return str(mapper.attrs[name].columns[0].key)


@functools.cache
def _insert(table: sa.Table) -> Any:
    """The table's INSERT giving back its primary keys in the order of its rows (one statement
    for many rows: SQLAlchemy's "insertmanyvalues"), built once per process."""
    return table.insert().returning(*table.primary_key.columns, sort_by_parameter_order=True)


def _fill_from_parents(state: InstanceState[Any]) -> None:
    """Foreign keys of ``state`` pointing at objects it holds (many-to-one)."""
    for prop in state.mapper.relationships:
        if prop.direction is not MANYTOONE:
            continue
        parent = state.dict.get(prop.key)
        if parent is None:
            continue
        parent_state = sa.inspect(parent)
        for source, target in prop.synchronize_pairs:
            key = parent_state.mapper.get_property_by_column(source).key
            if parent_state.dict.get(key) is None:
                raise ValueError(f"{parent!r} must be listed before {state.object!r}")
            state.dict[state.mapper.get_property_by_column(target).key] = parent_state.dict[key]


def _fill_children(state: InstanceState[Any]) -> None:
    """Foreign keys of the objects ``state`` holds in its collections (one-to-many)."""
    for prop in state.mapper.relationships:
        if prop.direction is not ONETOMANY or prop.key not in state.dict:
            continue
        for child in state.dict[prop.key] or ():
            child_state = sa.inspect(child)
            for source, target in prop.synchronize_pairs:
                key = child_state.mapper.get_property_by_column(target).key
                child_state.dict[key] = state.dict[state.mapper.get_property_by_column(source).key]

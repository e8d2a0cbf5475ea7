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

When the transaction (or savepoint) that wrote them rolls back, they become new objects again,
out of the session and with their values, as the objects a flush inserted do: nothing later
finds them in its identity map with their rows gone (SQLite hands a rolled-back row's id out
again).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import MANYTOONE, ONETOMANY, make_transient, make_transient_to_detached
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
        mapper = states[start].mapper
        _fill_from_parents(states[start])
        names = _set_columns(states[start])
        end = start + 1
        while end < len(states) and states[end].mapper is mapper:
            _fill_from_parents(states[end])
            if _set_columns(states[end]) != names:
                break
            end += 1
        _insert_run(states[start:end], names)
        start = end
    for state in states:
        make_transient_to_detached(state.object)
    session = db.session()
    for state in states:
        session.add(state.object)
    written = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_WRITTEN, []).append((written, [s.object for s in states]))


_WRITTEN = "shop_rows_inserted"


@sa.event.listens_for(ShopSession, "after_rollback")
def _undo_written(session: Any) -> None:
    """A rollback (of the transaction, or of a savepoint) undid rows :func:`insert_new`
    wrote inside it: their objects become new again, out of the session with their values,
    as the objects a flush inserted do. Fired before SQLAlchemy expires what the session
    held, and before the transaction's end."""
    ending = session.get_nested_transaction() or session.get_transaction()
    kept = []
    for written, objects in session.info.get(_WRITTEN, ()):
        if _within(written, ending):
            for obj in objects:
                make_transient(obj)
        else:
            kept.append((written, objects))
    session.info[_WRITTEN] = kept


@sa.event.listens_for(ShopSession, "after_commit")
def _stand(session: Any) -> None:
    if not session.in_nested_transaction():  # the outermost transaction committed them
        session.info.pop(_WRITTEN, None)


@sa.event.listens_for(ShopSession, "after_transaction_end")
def _forget_written(session: Any, transaction: Any) -> None:
    if transaction.parent is None:  # closed without either (the session expunges all)
        session.info.pop(_WRITTEN, None)


def _within(transaction: Any, outer: Any) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@dataclass(frozen=True)
class _Shape:
    """What :func:`insert_new` needs of a mapped class, worked out once per process."""

    columns: tuple[tuple[str, str, bool], ...]  # attribute, column key, part of the key
    key: tuple[str, ...]  # the primary key's attributes, in the table's order
    related: tuple[tuple[str, bool], ...]  # each relationship, and whether a collection
    # Many-to-one relationships: (parent's attribute, own attribute) pairs; one-to-many:
    # (own attribute, child's attribute) pairs.
    parents: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    children: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@functools.cache
def _shape(mapper: Any) -> _Shape:
    def attr(of: Any, column: Any) -> str:
        return str(of.get_property_by_column(column).key)

    return _Shape(
        columns=tuple(
            (prop.key, str(prop.columns[0].key), bool(prop.columns[0].primary_key))
            for prop in mapper.column_attrs
        ),
        key=tuple(attr(mapper, column) for column in mapper.local_table.primary_key.columns),
        related=tuple((prop.key, bool(prop.uselist)) for prop in mapper.relationships),
        parents=tuple(
            (
                prop.key,
                tuple((attr(prop.mapper, s), attr(mapper, t)) for s, t in prop.synchronize_pairs),
            )
            for prop in mapper.relationships
            if prop.direction is MANYTOONE
        ),
        children=tuple(
            (
                prop.key,
                tuple((attr(mapper, s), attr(prop.mapper, t)) for s, t in prop.synchronize_pairs),
            )
            for prop in mapper.relationships
            if prop.direction is ONETOMANY
        ),
    )


def _refuse_unlisted(state: InstanceState[Any], listed: set[int]) -> None:
    for name, uselist in _shape(state.mapper).related:
        value = state.dict.get(name)
        if value is None:
            continue
        for obj in value if uselist else (value,):
            other = sa.inspect(obj)
            if other.key is None and id(other) not in listed:
                raise ValueError(
                    f"{obj!r} (through {state.class_.__name__}.{name}) is new and not "
                    "among the objects to insert"
                )


def _set_columns(state: InstanceState[Any]) -> tuple[str, ...]:
    """The attributes set on a new object that are columns of its table (its key when set)."""
    values = state.dict
    return tuple(
        name
        for name, _, key in _shape(state.mapper).columns
        if name in values and not (key and values[name] is None)
    )


def _insert_run(states: Sequence[InstanceState[Any]], names: tuple[str, ...]) -> None:
    shape = _shape(states[0].mapper)
    columns = {name: column for name, column, _ in shape.columns}
    rows = [{columns[name]: state.dict[name] for name in names} for state in states]
    table: Any = states[0].mapper.local_table
    result = db.session.execute(_insert(table), rows if len(rows) > 1 else rows[0])
    for state, key in zip(states, result.all(), strict=True):  # a key for every row
        state.dict.update(zip(shape.key, key, strict=True))
        _fill_children(state)


@functools.cache
def _insert(table: sa.Table) -> Any:
    """The table's INSERT giving back its primary keys in the order of its rows (one statement
    for many rows: SQLAlchemy's "insertmanyvalues"), built once per process."""
    return table.insert().returning(*table.primary_key.columns, sort_by_parameter_order=True)


def _fill_from_parents(state: InstanceState[Any]) -> None:
    """Foreign keys of ``state`` pointing at objects it holds (many-to-one)."""
    for name, pairs in _shape(state.mapper).parents:
        parent = state.dict.get(name)
        if parent is None:
            continue
        values = sa.inspect(parent).dict
        for source, target in pairs:
            if values.get(source) is None:
                raise ValueError(f"{parent!r} must be listed before {state.object!r}")
            state.dict[target] = values[source]


def _fill_children(state: InstanceState[Any]) -> None:
    """Foreign keys of the objects ``state`` holds in its collections (one-to-many)."""
    for name, pairs in _shape(state.mapper).children:
        for child in state.dict.get(name) or ():
            values = sa.inspect(child).dict
            for source, target in pairs:
                values[target] = state.dict[source]

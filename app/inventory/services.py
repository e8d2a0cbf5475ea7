"""The one owner of stock: receive, adjust, count, reserve, release, sell — and the lock order.

Nothing else writes ``variants.stock_on_hand``, ``variants.reserved`` or a ``StockMovement``
(tests/core/test_architecture.py checks it). Each change is one guarded UPDATE whose row count
is checked (never below zero, never fewer on hand than reserved, on SQLite and PostgreSQL
alike, whatever other transactions do meanwhile) plus its line in the ledger. A transaction
that touches several variants takes their rows in one order — variants, then their products,
ids ascending (:func:`lock_stock`) — and refreshes the products' listing summaries after all
its variant writes (:func:`refresh_products`), so two of them never wait on each other in a
circle. Callers own the transaction (one per entry point) and the words shown to people.

A change that takes a tracked variant's available units (on hand less reserved) from above its
low-stock threshold to at or below it raises the low-stock signal, once per crossing: the
UPDATE returns the row as it wrote it, so of two shoppers racing for the last units only the
one whose reservation crossed the line sees it (a sale does not change what is available;
the reservation before it did). Staff get one alert per unit of work after it commits
(app/inventory/tasks.py), for checkouts, adjustments, counts and imports alike (an import
commits, and so alerts, per chunk of 500 rows).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from app.accounts.audit import audit
from app.catalog.cache import catalog_changed
from app.catalog.errors import CatalogError
from app.catalog.models import Product, StockMovement, StockReason, Variant
from app.catalog.summary import refresh_product_summary
from app.db import affected, after_commit_batch
from app.extensions import db
from app.inventory import tasks

log = logging.getLogger(__name__)


class InsufficientStock(CatalogError):
    """Not enough units for the change; nothing was written."""

    def __init__(self, message: str, *, variant_id: int | None = None) -> None:
        super().__init__(message)
        self.variant_id = variant_id  # the variant short of units, when one is


# What a stock UPDATE returns, to see whether it crossed the low-stock threshold.
_AFTER = (
    Variant.stock_on_hand,
    Variant.reserved,
    Variant.low_stock_threshold,
    Variant.track_inventory,
)


def _watch(variant_id: int, row: Sequence[Any], available_change: int) -> None:
    """Raise the low-stock signal when this change crossed the threshold downwards, and the
    back-in-stock one when it took the available units from none to some."""
    on_hand, reserved, threshold, tracked = row
    after = on_hand - reserved
    if tracked and after - available_change > threshold >= after:
        after_commit_batch("low-stock", variant_id, tasks.enqueue_low_stock_alert)
    if tracked and after - available_change <= 0 < after:
        after_commit_batch("back-in-stock", variant_id, tasks.enqueue_back_in_stock)


# --- Lock order -----------------------------------------------------------------------------


def lock_stock(variant_ids: Iterable[int | None]) -> None:
    """Lock the variants, then their products, each in id order (PostgreSQL; SQLite's writers
    are serial). Every stock change takes its rows in this order — variants before products,
    ids ascending — so two checkouts can never wait on each other in a circle; a transaction
    that will release one order's stock and reserve another's locks both sets up front."""
    ids = sorted({i for i in variant_ids if i is not None})
    if not ids or db.engine.dialect.name != "postgresql":
        return
    # FOR NO KEY UPDATE: the lock the UPDATEs that follow take anyway. A plain FOR UPDATE
    # would also wait for (and block) rows being inserted that point at these ones — a cart
    # line added during a sign-in merge — and deadlock with it.
    db.session.execute(
        sa.select(Variant.id)
        .where(Variant.id.in_(ids))
        .order_by(Variant.id)
        .with_for_update(key_share=True)
    ).all()
    _lock_products(sa.select(Variant.product_id).where(Variant.id.in_(ids)))


def _lock_products(ids: Iterable[int] | sa.Select[Any]) -> list[int]:
    """Lock the products' rows, ids ascending, and return their ids (PostgreSQL; SQLite's
    writers are serial). Before their summaries are computed: a summary UPDATE that had to
    wait for a row would work from what the variants were before the other transaction
    committed, and could undo its "in stock"."""
    if isinstance(ids, sa.Select):
        where = Product.id.in_(ids)
    else:
        ids = sorted(set(ids))
        if not ids:
            return []
        if db.engine.dialect.name != "postgresql":
            return ids
        where = Product.id.in_(ids)
    query = sa.select(Product.id).where(where).order_by(Product.id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    return list(db.session.execute(query).scalars())


def refresh_products(variant_ids: Iterable[int | None]) -> None:
    """The listing summaries of the variants' products, in product-id order, after every
    variant row of the change was written (see :func:`lock_stock`)."""
    ids = sorted({i for i in variant_ids if i is not None})
    if not ids:
        return
    for product_id in _lock_products(sa.select(Variant.product_id).where(Variant.id.in_(ids))):
        refresh_product_summary(product_id, locked=True)


def _moved(
    variant_id: int,
    *,
    reason: str,
    on_hand: int = 0,
    reserved: int = 0,
    reference: str = "",
    note: str = "",
    actor_id: int | None = None,
) -> None:
    values = {
        "variant_id": variant_id,
        "on_hand_delta": on_hand,
        "reserved_delta": reserved,
        "reason": reason,
        "reference": reference,
        "note": note[:250],
        "actor_id": actor_id,
    }
    db.session.execute(_movement_insert(), values)


@functools.cache
def _movement_insert() -> sa.Insert:
    """A ledger line's INSERT, run at once rather than left to a flush (nothing reads the
    row as an object: a flush's bookkeeping for it cost more than the INSERT on a press of
    Pay). Built once per process."""
    return sa.insert(StockMovement.__table__)  # type: ignore[arg-type]


# --- Units on hand (staff, imports, returns, new variants) ----------------------------------


def adjust_stock(
    variant_id: int,
    delta: int,
    *,
    reason: str = StockReason.ADJUSTMENT,
    note: str = "",
    actor_id: int | None = None,
    refresh: bool = True,
) -> None:
    """Add or remove units on hand with one conditional UPDATE (no read-modify-write).

    A decrease that would leave fewer units than are reserved or below zero changes nothing
    and raises, whatever other transactions are doing at the same moment. ``refresh=False``
    leaves the product's listing summary to the caller (a new product refreshes it once).
    """
    if delta == 0:
        return
    row = db.session.execute(
        sa.update(Variant)
        .where(Variant.id == variant_id, Variant.stock_on_hand + delta >= Variant.reserved)
        .values(stock_on_hand=Variant.stock_on_hand + delta)
        .returning(*_AFTER)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        raise InsufficientStock("Not enough stock for that change.")
    _watch(variant_id, row, delta)
    _moved(variant_id, reason=reason, on_hand=delta, note=note, actor_id=actor_id)
    db.session.flush()
    if refresh:
        refresh_products([variant_id])


def set_stock_count(
    variant_id: int,
    counted: int,
    *,
    reason: str = StockReason.COUNT_CORRECTION,
    note: str = "",
    actor_id: int | None = None,
    attempts: int = 10,
) -> int:
    """Set units on hand to a physical count and return the change recorded in the ledger.

    A compare-and-set on the value just read: a sale landing between the read and the write
    makes the UPDATE miss, and it is retried against the new value, so the ledger's delta is
    always the real difference.
    """
    if counted < 0:
        raise CatalogError("A counted quantity cannot be negative.")
    for _ in range(attempts):
        row = db.session.execute(
            sa.select(Variant.stock_on_hand, Variant.reserved, Variant.product_id).where(
                Variant.id == variant_id
            )
        ).first()
        if row is None:
            raise CatalogError("That variant no longer exists.")
        on_hand, reserved, product_id = row
        if counted < reserved:
            raise InsufficientStock(
                f"{reserved} units are reserved for unpaid orders, so the count cannot be "
                "lower than that."
            )
        delta = counted - on_hand
        if delta == 0:
            return 0
        after = db.session.execute(
            sa.update(Variant)
            .where(
                Variant.id == variant_id,
                Variant.stock_on_hand == on_hand,
                Variant.reserved <= counted,
            )
            .values(stock_on_hand=counted)
            .returning(*_AFTER)
            .execution_options(synchronize_session=False)
        ).first()
        if after is not None:
            _watch(variant_id, after, delta)
            _moved(variant_id, reason=reason, on_hand=delta, note=note, actor_id=actor_id)
            db.session.flush()
            refresh_product_summary(product_id)
            return delta
    raise CatalogError("The stock kept changing while saving the count. Please try again.")


def staff_adjustment(
    variant_id: int,
    *,
    reason: str,
    change: int | None = None,
    counted: int | None = None,
    note: str = "",
    actor_id: int | None,
) -> int:
    """What staff do on the inventory screen: a physical count (``reason`` count_correction,
    ``counted`` units on the shelf) or a change of ``change`` units for ``reason``. Audited;
    returns the change made (0: the count matched)."""
    if reason == StockReason.COUNT_CORRECTION:
        if counted is None:
            raise CatalogError("Enter the counted quantity.", field="counted")
        delta = set_stock_count(variant_id, counted, note=note, actor_id=actor_id)
    else:
        if not change:
            raise CatalogError("Enter a change other than zero.", field="change")
        delta = change
        adjust_stock(variant_id, delta, reason=reason, note=note, actor_id=actor_id)
    if delta:
        on_hand = db.session.execute(
            sa.select(Variant.stock_on_hand).where(Variant.id == variant_id)
        ).scalar_one()
        audit(
            "stock.adjust",
            actor_id=actor_id,
            target=f"variant:{variant_id}",
            detail=f"{reason} {delta:+d} -> {on_hand} on hand; {note}"[:500],
        )
    return delta


def set_low_stock_threshold(
    variant: Variant, threshold: int, *, actor_id: int | None = None
) -> None:
    if threshold < 0:
        raise CatalogError("The low-stock threshold cannot be negative.")
    before = variant.low_stock_threshold
    variant.low_stock_threshold = threshold
    db.session.flush()
    catalog_changed()  # product pages show "Only n left" from the threshold
    if before != threshold:
        audit(
            "stock.threshold",
            actor_id=actor_id,
            target=f"variant:{variant.id}",
            detail=f"{before} -> {threshold}",
        )


# --- Orders: reserve at checkout, release when unpaid, sell when paid -----------------------


def reserve_lines(lines: Iterable[tuple[int | None, int]], *, reference: str) -> None:
    """Hold an unpaid order's units (``lines``: variant id and quantity), then refresh the
    listing summary of each product whose variant gave its last units (no other summary can
    change): all of the order's stock in the fewest round trips,
    for its caller to commit straight after. Every shopper paying for a popular item waits on
    these rows, so they are the last thing a checkout writes (see
    app/checkout/services.py), and each variant's guarded UPDATE is the statement that
    locks it: variants by id, then products by id, as :func:`lock_stock` orders them (a
    caller that locked them up front just finds them held).
    Raises InsufficientStock (its ``variant_id`` says which) at the first variant short of
    units; the caller rolls back what was written before it."""
    emptied: set[int] = set()
    for variant_id, quantity in sorted(_per_variant(lines).items()):
        product_id, none_left = reserve(variant_id, quantity, reference=reference)
        if none_left:
            emptied.add(product_id)
    # A reservation changes no price and can only end "in stock" by taking a variant's last
    # units: other products' summaries stay as they are (no lock, no write).
    for product_id in _lock_products(emptied):
        refresh_product_summary(product_id, locked=True)
    catalog_changed(structure=False)  # pages showing how many are left


def reserve(variant_id: int, quantity: int, *, reference: str) -> tuple[int, bool]:
    """Hold ``quantity`` units for an unpaid order (``reference``: its number). A variant
    whose stock is not tracked always has them and holds nothing (no ledger line). Returns
    the variant's product id and whether these were its last units (its product's summary
    may have to say sold out: the caller refreshes it); raises InsufficientStock, writing
    nothing."""
    values = {"variant_id": variant_id, "quantity": quantity}
    row = db.session.execute(_reserve_statement(), values).first()
    if row is None:
        raise InsufficientStock("Not enough stock left to reserve.", variant_id=variant_id)
    if not row.track_inventory:
        return int(row.product_id), False
    _watch(variant_id, row[: len(_AFTER)], -quantity)
    _moved(variant_id, reason=StockReason.RESERVATION, reserved=quantity, reference=reference)
    return int(row.product_id), row.stock_on_hand - row.reserved <= 0


@functools.cache
def _reserve_statement() -> sa.Update:
    """:func:`reserve`'s guarded UPDATE, built once per process (the variant and quantity
    bound at each run): building it cost a tenth of a millisecond of every paying press."""
    quantity = sa.bindparam("quantity", type_=sa.Integer)
    return (
        sa.update(Variant)
        .where(
            Variant.id == sa.bindparam("variant_id", type_=sa.Integer),
            sa.or_(
                Variant.track_inventory.is_(False),
                Variant.stock_on_hand - Variant.reserved >= quantity,
            ),
        )
        .values(
            reserved=sa.case(
                (Variant.track_inventory.is_(True), Variant.reserved + quantity),
                else_=Variant.reserved,
            )
        )
        .returning(*_AFTER, Variant.product_id)
        .execution_options(synchronize_session=False)
    )


def held_for(reference: str, variant_ids: Iterable[int]) -> dict[int, int]:
    """Units the ledger says are held for ``reference`` now, per variant: its reservations
    less what was released or sold since. Release and sale act on exactly this, so staff
    switching a variant's stock tracking while someone pays changes nothing they undo."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(StockMovement.variant_id, sa.func.sum(StockMovement.reserved_delta))
        .where(StockMovement.reference == reference, StockMovement.variant_id.in_(ids))
        .group_by(StockMovement.variant_id)
    ).all()
    return {variant_id: int(total) for variant_id, total in rows if total and total > 0}


def sold_for(reference: str, variant_id: int) -> int:
    """Units the ledger says ``reference``'s sale took off the shelf for a variant (a refund
    puts back at most these)."""
    taken = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(StockMovement.on_hand_delta), 0)).where(
            StockMovement.reference == reference,
            StockMovement.variant_id == variant_id,
            StockMovement.reason == StockReason.SALE,
        )
    ).scalar_one()
    return max(0, -int(taken))


def _not_held(variant_id: int, reference: str, quantity: int) -> None:
    """The ledger says ``reference`` holds more than the variant has reserved. Before the
    ledger was the rule, a reservation of a variant whose stock was not tracked wrote a
    ledger line without reserving anything; an order placed then and paid (or expired) after
    the upgrade meets this. Nothing is written for the variant (never a negative count, never
    another order's units) and the payment or cancellation goes on."""
    log.warning(
        "stock: %s holds %s of variant %s by the ledger, more than it has reserved; left unchanged",
        reference,
        quantity,
        variant_id,
    )


def _per_variant(lines: Iterable[tuple[int | None, int]]) -> dict[int, int]:
    wanted: dict[int, int] = {}
    for variant_id, quantity in lines:
        if variant_id is not None:
            wanted[variant_id] = wanted.get(variant_id, 0) + quantity
    return wanted


def release(lines: Iterable[tuple[int | None, int]], *, reference: str, note: str = "") -> None:
    """Give an unpaid order's held units back (``lines``: variant id and quantity; never more
    than the ledger says the order holds); the caller has claimed the release once for the
    order."""
    wanted = _per_variant(lines)
    held = held_for(reference, wanted)
    for variant_id in sorted(held):
        quantity = min(wanted[variant_id], held[variant_id])
        result = affected(
            sa.update(Variant)
            .where(Variant.id == variant_id, Variant.reserved >= quantity)
            .values(reserved=Variant.reserved - quantity)
            .execution_options(synchronize_session=False)
        )
        if result != 1:
            _not_held(variant_id, reference, quantity)
            continue
        _moved(
            variant_id,
            reason=StockReason.RELEASE,
            reserved=-quantity,
            reference=reference,
            note=note,
        )
    refresh_products(held)


def sell(
    lines: Iterable[tuple[int | None, int]], *, reference: str, actor_id: int | None = None
) -> None:
    """A paid order's held units leave the shop: on hand and reserved both go down by what the
    ledger says the order holds (a variant that was not tracked when it was reserved holds
    nothing and sells without a stock change); the caller has claimed the sale once."""
    wanted = _per_variant(lines)
    held = held_for(reference, wanted)
    for variant_id in sorted(held):
        quantity = min(wanted[variant_id], held[variant_id])
        result = affected(
            sa.update(Variant)
            .where(Variant.id == variant_id, Variant.reserved >= quantity)
            .values(
                stock_on_hand=Variant.stock_on_hand - quantity,
                reserved=Variant.reserved - quantity,
            )
            .execution_options(synchronize_session=False)
        )
        if result != 1:
            _not_held(variant_id, reference, quantity)
            continue
        _moved(
            variant_id,
            reason=StockReason.SALE,
            on_hand=-quantity,
            reserved=-quantity,
            reference=reference,
            actor_id=actor_id,
        )
    # Units on hand and held both went down: what is available, the price range and "in
    # stock" are as they were, so the summaries stay (no product lock, no write).
    catalog_changed(structure=False)

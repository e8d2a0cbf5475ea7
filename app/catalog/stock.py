"""Stock on hand: every change is one conditional UPDATE checked by row count (never below
what is reserved, on SQLite and PostgreSQL alike) with a StockMovement row in the ledger;
counts entered as "what is on the shelf" become such a change; per-variant low-stock
thresholds."""

from __future__ import annotations

import sqlalchemy as sa

from app.catalog.cache import catalog_changed
from app.catalog.models import StockMovement, StockReason, Variant
from app.catalog.services import CatalogError, refresh_product_summary
from app.extensions import db


class InsufficientStock(CatalogError):
    pass


def adjust_stock(
    variant_id: int,
    delta: int,
    *,
    reason: str = StockReason.ADJUSTMENT,
    note: str = "",
    actor_id: int | None = None,
) -> None:
    """Add or remove units on hand with one conditional UPDATE (no read-modify-write).

    A decrease that would leave fewer units than are reserved or below zero changes nothing
    and raises, whatever other transactions are doing at the same moment.
    """
    if delta == 0:
        return
    result = db.session.execute(
        sa.update(Variant)
        .where(Variant.id == variant_id, Variant.stock_on_hand + delta >= Variant.reserved)
        .values(stock_on_hand=Variant.stock_on_hand + delta)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InsufficientStock("Not enough stock for that change.")
    db.session.add(
        StockMovement(
            variant_id=variant_id,
            on_hand_delta=delta,
            reason=reason,
            note=note[:250],
            actor_id=actor_id,
        )
    )
    db.session.flush()
    product_id = db.session.execute(
        sa.select(Variant.product_id).where(Variant.id == variant_id)
    ).scalar_one()
    refresh_product_summary(product_id)


def set_low_stock_threshold(variant: Variant, threshold: int) -> None:
    if threshold < 0:
        raise CatalogError("The low-stock threshold cannot be negative.")
    variant.low_stock_threshold = threshold
    db.session.flush()
    catalog_changed()  # product pages show "Only n left" from the threshold


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
        result = db.session.execute(
            sa.update(Variant)
            .where(
                Variant.id == variant_id,
                Variant.stock_on_hand == on_hand,
                Variant.reserved <= counted,
            )
            .values(stock_on_hand=counted)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            db.session.add(
                StockMovement(
                    variant_id=variant_id,
                    on_hand_delta=delta,
                    reason=reason,
                    note=note[:250],
                    actor_id=actor_id,
                )
            )
            db.session.flush()
            refresh_product_summary(product_id)
            return delta
    raise CatalogError("The stock kept changing while saving the count. Please try again.")

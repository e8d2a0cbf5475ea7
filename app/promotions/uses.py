"""A code's uses follow its order: **held** when the order is placed (its rows by
:func:`record` with the order's own, then the counters by :func:`take`, a conditional UPDATE
against the limit, so racing checkouts can never pass it), **used** when the order is paid,
**released** when the unpaid order expires or is cancelled, which gives the use back.

Called by the order verbs in app/orders/services.py, inside their transaction. Counters are
kept for promotions with a code only: an automatic promotion has no limit, and a counter
updated by every checkout of a weekend sale would queue them all on one row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.core.shop_errors import ShopError
from app.db import affected
from app.extensions import db
from app.promotions.models import OrderDiscount, Promotion, UseState, VoucherCode
from app.promotions.rules import Applied
from app.promotions.services import customer_uses

if TYPE_CHECKING:
    from app.orders.models import Order

log = logging.getLogger(__name__)


class VoucherUnavailable(ShopError):
    """The code was used up (or used by this customer) between the quote and the order."""

    code = "voucher-unavailable"
    status = 409


def _take(table: type[Promotion] | type[VoucherCode], row_id: int, *, force: bool = False) -> bool:
    """One more use, unless the limit is reached (``force``: even then); the row stays
    locked to the end of the transaction."""
    within = sa.or_(table.usage_limit.is_(None), table.uses < table.usage_limit)
    return bool(
        affected(
            sa.update(table)
            .where(table.id == row_id, sa.true() if force else within)
            .values(uses=table.uses + 1)
            .execution_options(synchronize_session=False)
        )
    )


def _give(table: type[Promotion] | type[VoucherCode], row_id: int | None) -> None:
    if row_id is None:
        return
    db.session.execute(
        sa.update(table)
        .where(table.id == row_id, table.uses > 0)
        .values(uses=table.uses - 1)
        .execution_options(synchronize_session=False)
    )


def record(order: Order, discounts: Sequence[Applied]) -> None:
    """The order's discounts as rows of its own, held (no shared row is touched: checkout
    writes these before it locks stock and codes)."""
    user_id, email = order.user_id, order.email.lower()
    for applied in discounts:
        order.discounts.append(
            OrderDiscount(
                promotion_id=applied.promotion_id,
                voucher_code_id=applied.code_id,
                code=applied.code,
                name=applied.name[:200],
                target=applied.target,
                amount=applied.amount,
                state=UseState.HELD,
                user_id=user_id,
                email=email,
            )
        )


def take(order: Order, discounts: Sequence[Applied]) -> None:
    """A use of each code among the order's discounts, against its limits; raises
    :class:`VoucherUnavailable` when none is left. The code's rows stay locked to the end of
    the transaction, so one customer's racing checkouts count each other's uses."""
    if order.id is None:
        db.session.flush()  # its id, to leave its own rows out of the count
    if order.id is None:  # not in the session: its own rows could not be told apart
        raise RuntimeError("take() needs an order that was added to the session")
    for applied in discounts:
        if applied.code_id is None:
            continue
        if not _take(Promotion, applied.promotion_id) or not _take(VoucherCode, applied.code_id):
            raise VoucherUnavailable(
                f"The code {applied.code} has just been used up. Remove it from your "
                "cart to pay the full price.",
                field="code",
            )
        promotion = db.session.get(Promotion, applied.promotion_id)
        limit = promotion.per_customer_limit if promotion is not None else None
        if limit is not None and (
            customer_uses(
                applied.promotion_id,
                user_id=order.user_id,
                email=order.email.lower(),
                excluding=(order.id,),  # its own row, written by record()
            )
            >= limit
        ):
            raise VoucherUnavailable(
                f"You have already used the code {applied.code}. Remove it from your "
                "cart to pay the full price.",
                field="code",
            )
    db.session.flush()


def _move(order_id: int, old: UseState, new: UseState) -> list[tuple[int | None, int | None]]:
    """Move the order's uses from ``old`` to ``new``, once: which (promotion, code) moved."""
    moved = db.session.execute(
        sa.update(OrderDiscount)
        .where(OrderDiscount.order_id == order_id, OrderDiscount.state == old)
        .values(state=new)
        .returning(OrderDiscount.promotion_id, OrderDiscount.voucher_code_id)
        .execution_options(synchronize_session=False)
    ).all()
    return [(promotion_id, code_id) for promotion_id, code_id in moved]


def count_paid(order_id: int, order_number: str) -> None:
    """The order was paid: its held uses count. An order paid after its checkout expired
    (its uses released meanwhile) takes them again, past the limit if another order took
    the freed use meanwhile: the payment keeps the discount it was made with, and counting
    it is what stops the code being handed out once more (the overrun is logged)."""
    _move(order_id, UseState.HELD, UseState.USED)
    for promotion_id, code_id in _move(order_id, UseState.RELEASED, UseState.USED):
        if code_id is None or promotion_id is None:
            continue
        over = False
        for table, row_id in ((Promotion, promotion_id), (VoucherCode, code_id)):
            if not _take(table, row_id):
                _take(table, row_id, force=True)
                over = True
        if over:
            log.warning("order %s was paid with a code past its limit", order_number)


def release(order_id: int) -> None:
    """The unpaid order expired or was cancelled: its uses are free again."""
    for promotion_id, code_id in _move(order_id, UseState.HELD, UseState.RELEASED):
        if code_id is not None:
            _give(Promotion, promotion_id)
            _give(VoucherCode, code_id)

"""Back in stock: shoppers ask to be told when a sold-out variant returns, and get one e-mail
when it does.

A stock change that takes a tracked variant's available units from none to some raises the
signal (app/inventory/services.py, as the low-stock one: the guarded UPDATE returns the row
it wrote, so only the change that crossed sees it); after that unit of work commits, a task
claims the waiting requests with one conditional UPDATE (``notified_at`` set where it was
empty) and queues an e-mail per claimed request: two restocks racing, or a task run twice,
never e-mail anyone twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from app.catalog.errors import CatalogError
from app.catalog.models import Product, ProductStatus, Variant
from app.db import upsert, utcnow
from app.extensions import db
from app.inventory.models import StockWaiter
from app.notifications.models import Category, Suppression
from app.notifications.rendering import external_url
from app.notifications.services import notify

MAX_WAITING_PER_EMAIL = 20  # one address cannot fill the table, nor anyone's inbox


class WaitlistError(CatalogError):
    code = "back-in-stock-refused"
    status = 422


def ask(variant_id: int, email: str, *, user_id: int | None, account_email: str = "") -> Variant:
    """Put ``email`` on the variant's waiting list (again, if it was told before). A
    signed-in shopper is always told at their account's address, whatever was typed."""
    if account_email:
        email = account_email
    try:
        address = validate_email((email or "")[:320], check_deliverability=False).normalized
    except EmailNotValidError:
        raise WaitlistError(
            "Enter a valid email address, like name@example.com.", field="email"
        ) from None
    variant = db.session.get(Variant, variant_id)
    if variant is None or variant.product.status != ProductStatus.PUBLISHED:
        raise WaitlistError("Choose a product option first.", field="variant_id")
    if variant.is_available or not variant.track_inventory:
        raise WaitlistError("This option is in stock: you can buy it now.", field="variant_id")
    address = address.lower()
    waiting = db.session.execute(
        sa.select(sa.func.count()).where(
            StockWaiter.email == address, StockWaiter.notified_at.is_(None)
        )
    ).scalar_one()
    if waiting >= MAX_WAITING_PER_EMAIL:
        raise WaitlistError(
            f"You are waiting for {MAX_WAITING_PER_EMAIL} items already.", field="email"
        )
    db.session.execute(
        upsert(StockWaiter)
        .values(variant_id=variant.id, email=address, user_id=user_id, created_at=utcnow())
        .on_conflict_do_update(
            index_elements=["variant_id", "email"],
            set_={"notified_at": None, "created_at": utcnow()},
        )
    )
    return variant


def tell_waiting(variant_ids: list[int]) -> int:
    """Queue one e-mail to each shopper waiting for these variants that is available now;
    returns how many were queued."""
    available = list(
        db.session.execute(
            sa.select(Variant.id)
            .join(Product, Product.id == Variant.product_id)
            .where(
                Variant.id.in_(sorted(set(variant_ids))),
                Variant.stock_on_hand > Variant.reserved,
                Product.status == ProductStatus.PUBLISHED,
            )
        ).scalars()
    )
    if not available:
        return 0
    claimed = db.session.execute(
        sa.update(StockWaiter)
        .where(StockWaiter.variant_id.in_(available), StockWaiter.notified_at.is_(None))
        .values(notified_at=utcnow())
        .returning(StockWaiter.id, StockWaiter.variant_id, StockWaiter.email, StockWaiter.user_id)
        .execution_options(synchronize_session=False)
    ).all()
    variants = {
        v.id: v
        for v in db.session.execute(
            sa.select(Variant).where(Variant.id.in_({row.variant_id for row in claimed}))
        ).scalars()
    }
    suppressed = set(
        db.session.execute(
            sa.select(Suppression.address).where(
                Suppression.address.in_({row.email for row in claimed}),
                Suppression.category.in_([Category.MARKETING, "all"]),
            )
        ).scalars()
    )
    for row in claimed:
        if row.email in suppressed:
            continue  # unsubscribed from the shop's e-mail, or bounced: not this one either
        variant = variants[row.variant_id]
        product = variant.product
        notify(
            "back-in-stock",
            to=row.email,
            user_id=row.user_id,
            category=Category.TRANSACTIONAL,  # asked for, about one item: not marketing
            variables={
                "product_name": product.name,
                "options": variant.options_label,
                "price": variant.price,
                "currency": variant.currency,
                "product_url": external_url(
                    "catalog.product_detail", slug=product.slug, variant=variant.id
                ),
            },
        )
    return len(claimed)


def waiting_for(variant_ids: list[int]) -> dict[int, list[StockWaiter]]:
    """The shoppers waiting for each variant, oldest first (staff's waiting list)."""
    if not variant_ids:
        return {}
    rows = db.session.execute(
        sa.select(StockWaiter)
        .where(StockWaiter.variant_id.in_(variant_ids), StockWaiter.notified_at.is_(None))
        .order_by(StockWaiter.variant_id, StockWaiter.id)
    ).scalars()
    out: dict[int, list[StockWaiter]] = {}
    for row in rows:
        out.setdefault(row.variant_id, []).append(row)
    return out

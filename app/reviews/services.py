"""Reviews for both doors: who may write one (a buyer of the product), what it may say
(plain text within limits), what moderation does, and the product's summary.

A review is shown only once staff approve it; writing again edits the review and sends it
back to moderation. The product keeps ``rating_count`` and ``rating_sum`` of its approved
reviews (recounted, not incremented, whenever one changes state), and every change that shows
on product pages moves the catalog version so the cached pages follow.
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa

from app.accounts.audit import audit
from app.accounts.models import User
from app.catalog.cache import catalog_changed
from app.catalog.models import Product, ProductStatus, Variant
from app.core.shop_errors import ShopError
from app.db import utcnow
from app.extensions import db
from app.orders.models import Order, OrderLine, OrderStatus
from app.orders.states import PAID_STATES
from app.reviews.models import Review, ReviewStatus

TITLE_MAX = 120
BODY_MAX = 4000
REPLY_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BOUGHT = PAID_STATES - {OrderStatus.REFUNDED}  # a refunded purchase is not a purchase


class ReviewError(ShopError):
    code = "review-refused"
    status = 422


def plain(text: str | None, limit: int, *, field: str, what: str) -> str:
    """Text as people typed it, without control characters; refused when too long."""
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n")))
    cleaned = cleaned.strip()
    if len(cleaned) > limit:
        raise ReviewError(f"Keep the {what} to {limit:,} characters.", field=field)
    return cleaned


def has_bought(user_id: int, product_id: int) -> bool:
    return (
        db.session.execute(
            sa.select(OrderLine.id)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Variant, Variant.id == OrderLine.variant_id)
            .where(
                Order.user_id == user_id,
                Order.status.in_(BOUGHT),
                Variant.product_id == product_id,
                OrderLine.quantity_refunded < OrderLine.quantity,  # not all given back
            )
            .limit(1)
        ).first()
        is not None
    )


def author_name(user: User) -> str:
    """ "Ada L.": the first name and an initial, never the whole name or the e-mail."""
    parts = (user.name or "").split()
    if not parts:
        return "A customer"
    return (parts[0] + (f" {parts[-1][0]}." if len(parts) > 1 else ""))[:60]


def review_of(user_id: int, product_id: int) -> Review | None:
    return db.session.execute(
        sa.select(Review).where(Review.user_id == user_id, Review.product_id == product_id)
    ).scalar_one_or_none()


def write(user: User, product: Product, *, rating: int, title: str, body: str) -> Review:
    """A buyer's review of ``product`` (or their earlier one, edited), to be moderated."""
    if product.status != ProductStatus.PUBLISHED:
        raise ReviewError("This product is not sold any more.", code="product-not-found")
    if not has_bought(user.id, product.id):
        raise ReviewError(
            "Only customers who bought this product can review it.", code="review-not-bought"
        )
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ReviewError("Choose a rating from 1 to 5 stars.", field="rating")
    title = " ".join(plain(title, TITLE_MAX, field="title", what="title").split())
    body = plain(body, BODY_MAX, field="body", what="review")
    review = review_of(user.id, product.id)
    was_shown = review is not None and review.status == ReviewStatus.APPROVED
    if review is None:
        review = Review(product_id=product.id, user_id=user.id, staff_reply="")
        db.session.add(review)
    review.author_name = author_name(user)
    review.rating, review.title, review.body = rating, title, body
    review.status = ReviewStatus.PENDING
    review.moderated_at, review.moderated_by, review.moderation_note = None, None, ""
    db.session.flush()
    if was_shown:
        refresh_summary(product.id)
    return review


def moderate(review: Review, approve: bool, *, note: str = "", actor_id: int | None) -> None:
    note = plain(note, 255, field="note", what="note")  # refused before anything changes
    review.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
    review.moderated_by, review.moderated_at = actor_id, utcnow()
    review.moderation_note = note
    db.session.flush()
    refresh_summary(review.product_id)
    audit(
        "review.approved" if approve else "review.rejected",
        actor_id=actor_id,
        target=f"review {review.id}",
        detail=f"product {review.product_id}, {review.rating} stars"
        + (f": {note}" if note else ""),
    )


def reply(review: Review, text: str, *, actor_id: int | None) -> None:
    review.staff_reply = plain(text, REPLY_MAX, field="reply", what="reply")
    db.session.flush()
    if review.status == ReviewStatus.APPROVED:
        catalog_changed()
    audit("review.replied", actor_id=actor_id, target=f"review {review.id}")


def refresh_summary(product_id: int) -> None:
    """Recount the product's approved reviews onto it, and let cached pages follow. The
    product's row is locked first, so the recount (a statement of its own, with a fresh
    snapshot) sees what a concurrent moderation committed."""
    db.session.execute(sa.select(Product.id).where(Product.id == product_id).with_for_update())
    approved = sa.and_(Review.product_id == product_id, Review.status == ReviewStatus.APPROVED)
    db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id)
        .values(
            rating_count=sa.select(sa.func.count()).where(approved).scalar_subquery(),
            rating_sum=sa.select(sa.func.coalesce(sa.func.sum(Review.rating), 0))
            .where(approved)
            .scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    catalog_changed()


def approved_reviews(product_id: int, limit: int = 20) -> list[Review]:
    return list(
        db.session.execute(
            sa.select(Review)
            .where(Review.product_id == product_id, Review.status == ReviewStatus.APPROVED)
            .order_by(Review.created_at.desc(), Review.id.desc())
            .limit(limit)
        ).scalars()
    )


def distribution(product_id: int) -> dict[int, int]:
    """Approved reviews per star, 5 to 1."""
    rows = dict(
        db.session.execute(
            sa.select(Review.rating, sa.func.count())
            .where(Review.product_id == product_id, Review.status == ReviewStatus.APPROVED)
            .group_by(Review.rating)
        ).all()
    )
    return {stars: int(rows.get(stars, 0)) for stars in (5, 4, 3, 2, 1)}

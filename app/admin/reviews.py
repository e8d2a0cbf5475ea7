"""Reviews → moderation: pending reviews first; approve, reject (with a note for the
customer's own page) or reply. The rules are in app/reviews/services.py; each is audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, str_arg
from app.catalog.models import Product
from app.extensions import db
from app.reviews import services
from app.reviews.models import Review, ReviewStatus
from app.reviews.services import ReviewError

PERMISSION = "catalog.edit"


class ActionForm(FlaskForm):
    pass


@bp.get("/reviews")
@permission_required(PERMISSION)
def reviews() -> str:
    status = str_arg("status", choices=tuple(ReviewStatus)) or ReviewStatus.PENDING
    stmt = (
        sa.select(Review, Product)
        .join(Product, Product.id == Review.product_id)
        .where(Review.status == status)
    )
    page = paginate(
        stmt,
        sorts={"created": Review.created_at, "rating": Review.rating},
        default="-created",
        scalars=False,
        tiebreak=Review.id,
    )
    counts = dict(
        db.session.execute(sa.select(Review.status, sa.func.count()).group_by(Review.status)).all()
    )
    return render_template(
        "admin/reviews/list.html",
        page=page,
        status=status,
        statuses=list(ReviewStatus),
        counts=counts,
        action_form=ActionForm(),
    )


def _review(review_id: int) -> Review:
    if not ActionForm().validate_on_submit():
        abort(400)
    review = db.session.get(Review, review_id)
    if review is None:
        abort(404)
    return review


def _back(review: Review) -> Response:
    return redirect(
        url_for("admin.reviews", status=request.form.get("from") or review.status), code=303
    )


@bp.post("/reviews/<int:review_id>/approve")
@permission_required(PERMISSION)
def reviews_approve(review_id: int) -> Response:
    review = _review(review_id)
    services.moderate(review, True, actor_id=current_user.id)
    flash(f"Approved the review by {review.author_name}; it shows on the product now.", "success")
    return _back(review)


@bp.post("/reviews/<int:review_id>/reject")
@permission_required(PERMISSION)
def reviews_reject(review_id: int) -> Response:
    review = _review(review_id)
    try:
        services.moderate(
            review, False, note=request.form.get("note", ""), actor_id=current_user.id
        )
    except ReviewError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Rejected the review by {review.author_name}.", "success")
    return _back(review)


@bp.post("/reviews/<int:review_id>/reply")
@permission_required(PERMISSION)
def reviews_reply(review_id: int) -> Any:
    review = _review(review_id)
    try:
        services.reply(review, request.form.get("reply", ""), actor_id=current_user.id)
    except ReviewError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Saved the reply to {review.author_name}.", "success")
    return _back(review)

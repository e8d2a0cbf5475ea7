"""Writing a review: a page of its own (product pages are shared and cached; this one is the
signed-in buyer's), a plain form that works without JavaScript."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import InputRequired

from app.catalog.queries import get_published_product_or_404
from app.core.shop_errors import show_on_form
from app.extensions import limiter
from app.reviews import bp, services
from app.reviews.services import ReviewError


class ReviewForm(FlaskForm):
    rating = RadioField(
        "Your rating",
        choices=[SelectChoice(str(n), f"{n} star{'' if n == 1 else 's'}") for n in (5, 4, 3, 2, 1)],
        validators=[InputRequired("Choose a rating from 1 to 5 stars.")],
    )
    title = StringField("Title (optional)", render_kw={"maxlength": services.TITLE_MAX})
    body = TextAreaField(
        "Your review (optional)", render_kw={"rows": 6, "maxlength": services.BODY_MAX}
    )


@bp.route("/products/<slug>/review", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def write(slug: str) -> Any:
    product = get_published_product_or_404(slug)
    mine = services.review_of(current_user.id, product.id)
    bought = services.has_bought(current_user.id, product.id)
    if mine is not None and request.method == "GET":
        form = ReviewForm(
            formdata=None, data={"rating": str(mine.rating), "title": mine.title, "body": mine.body}
        )
    else:
        form = ReviewForm()
    if bought and form.validate_on_submit():
        try:
            services.write(
                current_user,
                product,
                rating=int(form.rating.data or 0),
                title=form.title.data or "",
                body=form.body.data or "",
            )
        except ReviewError as exc:
            show_on_form(form, exc)
        else:
            flash(
                f"Thank you! Your review of {product.name} will appear once our team has read it.",
                "success",
            )
            return redirect(url_for("catalog.product_detail", slug=product.slug), code=303)
    status = 422 if form.errors or form.form_errors else (200 if bought else 403)
    page = render_template(
        "reviews/write.html",
        product=product,
        form=form,
        bought=bought,
        mine=mine,
        author=services.author_name(current_user),
    )
    return page, status

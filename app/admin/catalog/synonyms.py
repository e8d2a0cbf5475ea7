"""Catalog → Search synonyms: groups of words that find each other ("tee" = "t-shirt")."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from app.accounts.permissions import permission_required
from app.admin import bp
from app.catalog.errors import CatalogError
from app.catalog.synonyms import add_group, delete_group, list_groups
from app.core.shop_errors import show_on_form

INVALID = 422


class SynonymForm(FlaskForm):
    terms = TextAreaField(
        "Words that mean the same",
        description="Separate them with commas, e.g. tee, t-shirt, tshirt. A search for any of "
        "them finds what any of them finds.",
        render_kw={"rows": 2, "maxlength": 2000},
    )


class DeleteForm(FlaskForm):
    pass


@bp.route("/search-synonyms", methods=["GET", "POST"])
@permission_required("catalog.edit")
def search_synonyms() -> Any:
    form = SynonymForm()
    if form.validate_on_submit():
        try:
            group = add_group(form.terms.data or "", actor_id=current_user.id)
        except CatalogError as exc:
            show_on_form(form, exc, default="terms")
        else:
            flash(f"Added the synonyms {group.terms}.", "success")
            return redirect(url_for("admin.search_synonyms"), code=303)
    status = INVALID if form.errors else 200
    page = render_template(
        "admin/synonyms/list.html", form=form, groups=list_groups(), delete_form=DeleteForm()
    )
    return page, status


@bp.post("/search-synonyms/<int:group_id>/delete")
@permission_required("catalog.edit")
def search_synonyms_delete(group_id: int) -> Any:
    if not DeleteForm().validate_on_submit():
        abort(400)
    group = delete_group(group_id, actor_id=current_user.id)
    if group is None:
        abort(404)
    flash(f"Deleted the synonyms {group.terms}.", "success")
    return redirect(url_for("admin.search_synonyms"), code=303)

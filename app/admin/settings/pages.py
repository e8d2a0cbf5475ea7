"""Settings → Pages: staff write the shop's terms, privacy, returns, shipping and contact
pages (app.pages). The text is sanitised with nh3 when saved; every save is audited."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from app.accounts.permissions import permission_required
from app.admin import bp
from app.core.shop_errors import show_on_form
from app.pages.services import PageError, get_page, list_pages, save_page

INVALID = 422


class PageForm(FlaskForm):
    title = StringField("Title")
    body = TextAreaField("Text", render_kw={"rows": 16})


@bp.get("/settings/pages")
@permission_required("settings.edit")
def settings_pages() -> Any:
    return render_template("admin/settings/pages_list.html", pages=list_pages())


@bp.route("/settings/pages/<slug>", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings_pages_edit(slug: str) -> Any:
    page = get_page(slug)
    if page is None:
        abort(404)
    form = PageForm()
    if request.method == "GET":
        form.title.data, form.body.data = page.title, page.body_html
    elif form.validate_on_submit():
        try:
            saved = save_page(
                slug, form.title.data or "", form.body.data or "", actor_id=current_user.id
            )
        except PageError as exc:
            show_on_form(form, exc)
        else:
            flash(f"Saved the page “{saved.title}”.", "success")
            return redirect(url_for("admin.settings_pages"), code=303)
    status = INVALID if request.method == "POST" else 200
    return render_template("admin/settings/page_form.html", page=page, form=form), status

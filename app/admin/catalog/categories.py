"""Staff category tree: create, rename, move (never under its own descendant) and reorder.
Every view needs ``catalog.edit``; the tree paths are maintained by the catalog services."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.catalog.common import (
    category_choices,
    category_from_choice,
    category_rows,
)
from app.admin.catalog.forms import CategoryEditForm, CategoryForm
from app.catalog.categories import add_category, move_category_position, update_category
from app.catalog.models import Category, Product
from app.catalog.services import CatalogError
from app.core.shop_errors import show_on_form
from app.extensions import db


def _tree_page(form: CategoryForm | None = None, status: int = 200) -> tuple[str, int]:
    if form is None:
        form = CategoryForm(formdata=None)
    form.parent_id.choices = category_choices("(Top level)")
    rows = category_rows()
    counts = dict(
        db.session.execute(
            sa.select(Product.category_id, sa.func.count())
            .where(Product.category_id.is_not(None))
            .group_by(Product.category_id)
        ).all()
    )
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    return (
        render_template(
            "admin/categories/tree.html",
            form=form,
            children=children,
            counts=counts,
            total=len(rows),
        ),
        status,
    )


@bp.get("/categories")
@permission_required("catalog.edit")
def categories() -> Any:
    return _tree_page()


@bp.post("/categories/new")
@permission_required("catalog.edit")
def categories_new() -> Any:
    form = CategoryForm()
    form.parent_id.choices = category_choices("(Top level)")
    if form.validate():
        parent = category_from_choice(form.parent_id.data)
        try:
            category = add_category(form.name.data, parent, actor_id=current_user.id)
        except CatalogError as exc:
            form.name.errors.append(str(exc))
        else:
            flash(f"Created the category “{category.name}”.", "success")
            return redirect(url_for("admin.categories"))
    return _tree_page(form, status=422)


def _edit_form_choices(form: CategoryEditForm, category: Category) -> None:
    # A category cannot go under itself or its own subtree; the service checks again.
    form.parent_id.choices = category_choices("(Top level)", exclude=category)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@permission_required("catalog.edit")
def categories_edit(category_id: int) -> Any:
    category = db.get_or_404(Category, category_id)
    if request.method == "GET":
        form = CategoryEditForm(
            formdata=None,
            name=category.name,
            slug=category.slug,
            parent_id=category.parent_id or 0,
            description=category.description,
            meta_title=category.meta_title,
            meta_description=category.meta_description,
        )
        _edit_form_choices(form, category)
        return render_template("admin/categories/edit.html", category=category, form=form)
    form = CategoryEditForm()
    # Validate the parent against every category so a cycle gets the service's message.
    form.parent_id.choices = category_choices("(Top level)")
    if form.validate():
        parent = category_from_choice(form.parent_id.data)
        try:
            changed = update_category(
                category,
                name=form.name.data,
                slug=form.slug.data or None,
                parent=parent,
                description=form.description.data or "",
                meta_title=form.meta_title.data or "",
                meta_description=form.meta_description.data or "",
                actor_id=current_user.id,
            )
        except CatalogError as exc:
            if exc.field:
                show_on_form(form, exc)
            else:
                target = form.parent_id if "move" in str(exc) else form.name
                target.errors.append(str(exc))
        else:
            flash(
                f"Saved the category “{category.name}”." if changed else "Nothing changed.",
                "success",
            )
            return redirect(url_for("admin.categories"))
    db.session.refresh(category)
    _edit_form_choices(form, category)
    return render_template("admin/categories/edit.html", category=category, form=form), 422


@bp.post("/categories/<int:category_id>/reorder")
@permission_required("catalog.edit")
def categories_reorder(category_id: int) -> Response:
    category = db.get_or_404(Category, category_id)
    direction = request.form.get("direction", "")
    offset = {"up": -1, "down": 1}.get(direction, 0)
    if move_category_position(category, offset, actor_id=current_user.id):
        flash(f"Moved “{category.name}” {direction}.", "success")
    else:
        flash(f"“{category.name}” cannot move further {direction or 'that way'}.", "info")
    return redirect(url_for("admin.categories") + f"#category-{category.id}")

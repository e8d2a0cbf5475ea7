"""Helpers shared by the staff catalog screens (products, categories, inventory)."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from wtforms import SelectChoice

from app.admin.listing import RESULTS_ID
from app.catalog.models import Category
from app.extensions import db, htmx

T = TypeVar("T")


def is_partial() -> bool:
    """True when the listing answers an HTMX request with just its results."""
    return bool(htmx and htmx.target == RESULTS_ID and not htmx.history_restore_request)


def category_rows() -> list[Category]:
    """Every category in tree order (parents before children, siblings by position)."""
    rows = list(
        db.session.execute(
            sa.select(Category).order_by(Category.position, Category.name, Category.id)
        ).scalars()
    )
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []

    def walk(parent_id: int | None) -> None:
        for child in children.get(parent_id, []):
            ordered.append(child)
            walk(child.id)

    walk(None)
    return ordered


def category_options(exclude: Category | None = None) -> list[tuple[int, str]]:
    """(id, label) in tree order, indented by depth; ``exclude`` drops a category and its
    subtree (where it cannot be moved)."""
    return [
        (row.id, f"{'— ' * row.depth}{row.name}")
        for row in category_rows()
        if exclude is None or not row.id_path.startswith(exclude.id_path)
    ]


def category_choices(none_label: str, *, exclude: Category | None = None) -> list[SelectChoice]:
    """The same options for a form's select, led by ``none_label`` (value 0)."""
    return [SelectChoice(0, none_label)] + [
        SelectChoice(ident, label) for ident, label in category_options(exclude)
    ]


def category_from_choice(value: Any) -> Category | None:
    if not value:
        return None
    return db.session.get(Category, int(value))

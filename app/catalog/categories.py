"""Category tree editing: add, rename and move (whole subtree rewritten in one transaction,
never into its own subtree), reorder among siblings, and the redirects a move leaves behind.

Tree edits lock every category row first (PostgreSQL; SQLite's write lock already serialises
writers), so two concurrent moves can never build a cycle between them.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.audit import audit
from app.catalog.cache import catalog_changed
from app.catalog.models import Category, CategoryRedirect
from app.catalog.services import (
    CatalogError,
    create_category,
    move_in_list,
    set_search_appearance,
    slugify,
)
from app.extensions import db

MAX_SLUG_PATH = 500
MAX_ID_PATH = 255


def _siblings_filter(parent_id: int | None) -> sa.ColumnElement[bool]:
    if parent_id is None:
        return Category.parent_id.is_(None)
    return Category.parent_id == parent_id


def _lock_category_tree() -> None:
    """Serialise tree edits: two concurrent moves could otherwise build a cycle between them.
    PostgreSQL locks every category row (there are few); SQLite's write lock already
    serialises writers. Rows loaded earlier are refreshed with what the lock protects."""
    db.session.execute(
        sa.select(Category)
        .order_by(Category.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars().all()


def slug_path_for(name_or_slug: str, parent: Category | None) -> str:
    slug = slugify(name_or_slug, 120)
    return f"{parent.slug_path}/{slug}" if parent else slug


def add_category(
    name: str,
    parent: Category | None = None,
    *,
    slug: str | None = None,
    description: str = "",
    actor_id: int | None = None,
) -> Category:
    """Create a category at the end of its siblings; refuses a name whose URL is taken."""
    if not name.strip():
        raise CatalogError("A category needs a name.")
    _lock_category_tree()
    slug_path = slug_path_for(slug or name, parent)
    if len(slug_path) > MAX_SLUG_PATH or (parent and len(parent.id_path) + 12 > MAX_ID_PATH):
        raise CatalogError("That category would be nested too deeply.")
    if _slug_path_owner(slug_path) is not None:
        raise CatalogError(f"There is already a category at /c/{slug_path}. Choose another name.")
    parent_id = parent.id if parent else None
    last = db.session.execute(
        sa.select(sa.func.max(Category.position)).where(_siblings_filter(parent_id))
    ).scalar()
    category = create_category(
        name,
        parent,
        slug=slug,
        position=0 if last is None else last + 1,
        description=description.strip(),
    )
    audit(
        "catalog.category_create",
        actor_id=actor_id,
        target=f"category:{category.id}",
        detail=category.slug_path,
    )
    return category


def _slug_path_owner(slug_path: str) -> int | None:
    return db.session.execute(
        sa.select(Category.id).where(Category.slug_path == slug_path)
    ).scalar_one_or_none()


def update_category(
    category: Category,
    *,
    name: str,
    slug: str | None = None,
    parent: Category | None = None,
    description: str = "",
    meta_title: str | None = None,
    meta_description: str | None = None,
    actor_id: int | None = None,
) -> list[str]:
    """Rename and/or move a category; the id and slug paths of its whole subtree are
    rewritten in the same transaction. Moving a category under itself or one of its own
    descendants is refused. ``meta_*``: the search appearance (None leaves them). Returns
    the changed fields."""
    if not name.strip():
        raise CatalogError("A category needs a name.")
    searched = set_search_appearance(category, meta_title, meta_description)
    _lock_category_tree()
    if parent is not None and (
        parent.id == category.id or parent.id_path.startswith(category.id_path)
    ):
        raise CatalogError("A category cannot be moved under itself or one of its subcategories.")
    new_slug = slugify(slug or category.slug, 120)
    new_slug_path = f"{parent.slug_path}/{new_slug}" if parent else new_slug
    new_id_path = f"{parent.id_path if parent else '/'}{category.id}/"
    new_depth = parent.depth + 1 if parent else 0
    owner = _slug_path_owner(new_slug_path)
    if owner is not None and owner != category.id:
        raise CatalogError(
            f"There is already a category at /c/{new_slug_path}. Choose another name or place."
        )

    old_id_path, old_slug_path, old_depth = category.id_path, category.slug_path, category.depth
    descendants = list(
        db.session.execute(
            sa.select(Category).where(
                Category.id_path.like(f"{old_id_path}%"), Category.id != category.id
            )
        ).scalars()
    )
    longest_slug = max([len(d.slug_path) for d in descendants] + [len(old_slug_path)])
    longest_id = max([len(d.id_path) for d in descendants] + [len(old_id_path)])
    if (
        longest_slug - len(old_slug_path) + len(new_slug_path) > MAX_SLUG_PATH
        or longest_id - len(old_id_path) + len(new_id_path) > MAX_ID_PATH
    ):
        raise CatalogError("That move would nest categories too deeply.")

    old_path = category.slug_path
    changed = []
    new_parent_id = parent.id if parent else None
    if name.strip() != category.name:
        changed.append("name")
    if new_slug != category.slug:
        changed.append("slug")
    if new_parent_id != category.parent_id:
        changed.append("parent")
        last = db.session.execute(
            sa.select(sa.func.max(Category.position)).where(_siblings_filter(new_parent_id))
        ).scalar()
        category.position = 0 if last is None else last + 1
    if description.strip() != category.description:
        changed.append("description")
    changed += searched

    category.name = name.strip()
    category.slug = new_slug
    category.parent = parent
    category.description = description.strip()
    category.slug_path, category.id_path, category.depth = new_slug_path, new_id_path, new_depth
    moved = {category.id: old_slug_path} if new_slug_path != old_slug_path else {}
    for node in descendants:
        if new_slug_path != old_slug_path:
            moved[node.id] = node.slug_path
        node.id_path = new_id_path + node.id_path[len(old_id_path) :]
        node.slug_path = new_slug_path + node.slug_path[len(old_slug_path) :]
        node.depth = node.depth - old_depth + new_depth
    db.session.flush()
    _remember_old_paths(moved)
    catalog_changed()
    if changed:
        audit(
            "catalog.category_update",
            actor_id=actor_id,
            target=f"category:{category.id}",
            detail=f"changed {', '.join(changed)}; {old_path} -> {category.slug_path}",
        )
    return changed


def _remember_old_paths(moved: dict[int, str]) -> None:
    """Each moved category's former path now redirects to it (a path used before by another
    category is re-pointed); a path that is live again is no redirect."""
    if not moved:
        return
    old_paths = list(moved.values())
    db.session.execute(sa.delete(CategoryRedirect).where(CategoryRedirect.old_path.in_(old_paths)))
    db.session.add_all(
        CategoryRedirect(old_path=path, category_id=category_id)
        for category_id, path in moved.items()
    )
    live = sa.select(Category.slug_path)
    db.session.execute(sa.delete(CategoryRedirect).where(CategoryRedirect.old_path.in_(live)))
    db.session.flush()


def category_redirect(path: str) -> str | None:
    """Where a category that used to live at ``path`` lives now, if it moved."""
    if len(path) > MAX_SLUG_PATH:
        return None
    return db.session.execute(
        sa.select(Category.slug_path)
        .join(CategoryRedirect, CategoryRedirect.category_id == Category.id)
        .where(CategoryRedirect.old_path == path)
    ).scalar_one_or_none()


def move_category_position(category: Category, offset: int, *, actor_id: int | None = None) -> bool:
    """Move a category up (-1) or down (+1) among its siblings."""
    _lock_category_tree()
    siblings = list(
        db.session.execute(
            sa.select(Category)
            .where(_siblings_filter(category.parent_id))
            .order_by(Category.position, Category.name, Category.id)
        ).scalars()
    )
    moved = move_in_list(siblings, category, offset)
    if moved:
        direction = "up" if offset < 0 else "down"
        audit(
            "catalog.category_reorder",
            actor_id=actor_id,
            target=f"category:{category.id}",
            detail=direction,
        )
    return moved

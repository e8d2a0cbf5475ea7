from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin

if TYPE_CHECKING:
    from app.catalog.models.product import Product


class Category(TimestampMixin, Base):
    """A node in a tree of any depth.

    ``id_path`` (``/1/7/12/``) makes "this category and all its descendants" one indexed
    ``LIKE 'prefix%'``; ``slug_path`` (``clothing/men/shirts``) is the public URL. Both are
    maintained by the catalog services when a category is created, renamed or moved.
    """

    __tablename__ = "categories"
    __table_args__ = (
        sa.UniqueConstraint("parent_id", "slug"),
        sa.CheckConstraint("position >= 0", name="position_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    slug: Mapped[str] = mapped_column(sa.String(120))
    slug_path: Mapped[str] = mapped_column(sa.String(500), unique=True)
    id_path: Mapped[str] = mapped_column(sa.String(255), index=True)
    depth: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # What search results and link previews show; empty: the name and the description.
    meta_title: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    meta_description: Mapped[str] = mapped_column(sa.String(320), default="", server_default="")

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(
        back_populates="parent", order_by="Category.position, Category.name"
    )
    products: Mapped[list[Product]] = relationship(back_populates="category")

    def __repr__(self) -> str:
        return f"<Category {self.slug_path}>"


class CategoryRedirect(Base):
    """A category's former address (``clothing/men``) after a rename or move, so links and
    search engines that still use it are sent on (301) to where the category is now."""

    __tablename__ = "category_redirects"

    id: Mapped[int] = mapped_column(primary_key=True)
    old_path: Mapped[str] = mapped_column(sa.String(500), unique=True)
    category_id: Mapped[int] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, one_of

if TYPE_CHECKING:
    from app.catalog.models.category import Category
    from app.catalog.models.variant import Variant


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Product(TimestampMixin, Base):
    """What shoppers browse. Prices and stock live on variants.

    ``price_min``/``price_max``/``in_stock`` summarise the variants so listings can filter and
    sort without aggregating; services refresh them whenever a price or stock changes.
    """

    __tablename__ = "products"
    __table_args__ = (
        one_of("status", ProductStatus, name="status_valid"),
        sa.Index("ix_products_status_created", "status", "created_at"),
        sa.Index("ix_products_status_price", "status", "price_min"),
        sa.Index("ix_products_status_name", "status", "name"),
        # Covers the facet counts (GROUP BY category) under the listing filters.
        sa.Index(
            "ix_products_status_category_stock_price",
            "status",
            "category_id",
            "in_stock",
            "price_min",
        ),
        # The brand filter, and the brand facet's GROUP BY under it.
        sa.Index("ix_products_status_brand", "status", "brand"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(220), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=ProductStatus.DRAFT)
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="SET NULL")
    )
    brand: Mapped[str] = mapped_column(sa.String(120), default="")
    description_html: Mapped[str] = mapped_column(sa.Text, default="")
    description_text: Mapped[str] = mapped_column(sa.Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    price_min: Mapped[int | None] = mapped_column(sa.BigInteger)
    price_max: Mapped[int | None] = mapped_column(sa.BigInteger)
    in_stock: Mapped[bool] = mapped_column(default=False)
    featured: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime | None] = mapped_column()
    # Approved reviews, summed up for listings and JSON-LD (app/reviews/services.py).
    rating_count: Mapped[int] = mapped_column(default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    # What search results and link previews show; empty: the name and the description.
    meta_title: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    meta_description: Mapped[str] = mapped_column(sa.String(320), default="", server_default="")

    category: Mapped[Category | None] = relationship(back_populates="products")
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position, Variant.id"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position, ProductImage.id"
    )

    @property
    def rating_average(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 1) if self.rating_count else None

    @property
    def is_published(self) -> bool:
        return self.status == ProductStatus.PUBLISHED

    @property
    def primary_image(self) -> ProductImage | None:
        return self.images[0] if self.images else None

    def __repr__(self) -> str:
        return f"<Product {self.slug}>"


class ProductImage(TimestampMixin, Base):
    """A re-encoded image. Files live in storage under ``<key>-<size>.<ext>``; the key is
    random plus a content hash, so URLs can be cached for a year."""

    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        sa.ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    storage_key: Mapped[str] = mapped_column(sa.String(80))
    alt_text: Mapped[str] = mapped_column(sa.String(250), default="")
    position: Mapped[int] = mapped_column(default=0)
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()

    product: Mapped[Product] = relationship(back_populates="images")

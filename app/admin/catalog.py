"""Products, variants, images, categories and inventory (one module per sub-topic)."""

from app.admin import (  # noqa: F401
    catalog_categories,
    catalog_images,
    catalog_inventory,
    catalog_products,
)

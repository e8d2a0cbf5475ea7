"""Staff catalog screens: products and variants, images, categories, inventory, and CSV
import and export, search synonyms (one module per screen)."""

from app.admin.catalog import (  # noqa: F401  (each registers its views)
    categories,
    exports,
    images,
    imports,
    inventory,
    products,
    synonyms,
)

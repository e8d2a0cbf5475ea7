from app.catalog.models.category import Category, CategoryRedirect
from app.catalog.models.product import Product, ProductImage, ProductStatus
from app.catalog.models.stock import PriceChange, StockMovement, StockReason
from app.catalog.models.variant import Variant

__all__ = [
    "Category",
    "CategoryRedirect",
    "PriceChange",
    "Product",
    "ProductImage",
    "ProductStatus",
    "StockMovement",
    "StockReason",
    "Variant",
]

from app.catalog.models.category import Category, CategoryRedirect
from app.catalog.models.import_job import ImportJob, JobStatus
from app.catalog.models.product import Product, ProductImage, ProductStatus
from app.catalog.models.search_stat import SearchStat
from app.catalog.models.search_synonym import SearchSynonym
from app.catalog.models.search_word import SearchWord
from app.catalog.models.stock import PriceChange, StockMovement, StockReason
from app.catalog.models.variant import Variant

__all__ = [
    "Category",
    "CategoryRedirect",
    "ImportJob",
    "JobStatus",
    "PriceChange",
    "Product",
    "ProductImage",
    "ProductStatus",
    "SearchStat",
    "SearchSynonym",
    "SearchWord",
    "StockMovement",
    "StockReason",
    "Variant",
]

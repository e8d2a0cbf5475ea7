"""Catalog errors: a rule was broken; the message is safe to show to staff."""

from __future__ import annotations

from app.core.shop_errors import ShopError


class CatalogError(ShopError):
    """A catalog rule was broken; the message is safe to show to staff."""

    code = "catalog-rejected"

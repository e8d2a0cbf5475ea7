"""Catalog errors: a rule was broken; the message is safe to show to staff."""

from __future__ import annotations


class CatalogError(ValueError):
    """A catalog rule was broken; the message is safe to show to staff."""

"""The store's own details (name, address, contact, VAT number) as shown in emails, invoices
and packing slips. One function to read them so every place shows the same thing.

Until staff save them in Settings the values come from configuration (SHOP_NAME).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app


@dataclass(frozen=True)
class StoreDetails:
    name: str
    legal_name: str = ""
    address_lines: list[str] = field(default_factory=list)
    email: str = ""
    phone: str = ""
    vat_number: str = ""


def store_details() -> StoreDetails:
    name = current_app.config["SHOP_NAME"]
    return StoreDetails(name=name, legal_name=name)


def low_stock_default() -> int:
    """The low-stock threshold a new variant starts with (staff may change it per variant)."""
    return 5

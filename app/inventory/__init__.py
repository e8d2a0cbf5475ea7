"""Inventory: the one owner of stock on hand, reservations and the stock ledger
(app/inventory/services.py), and the shoppers waiting for stock to come back
(app/inventory/waitlist.py)."""

from app.inventory import models  # noqa: E402,F401  (the tables, for every entry point)

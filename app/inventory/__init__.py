"""Inventory: the one owner of stock on hand, reservations and the stock ledger
(app/inventory/services.py)."""

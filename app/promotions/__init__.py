"""Promotions: voucher codes and automatic discounts, priced into the quote on the server
(``rules`` is the pure arithmetic, ``services`` reads and writes the tables, and ``uses``
counts a code's uses with the order's life: held when it is placed, counted when it is paid,
released when it expires or is cancelled unpaid)."""

from app.promotions import models  # noqa: E402,F401  (the tables, for every entry point)

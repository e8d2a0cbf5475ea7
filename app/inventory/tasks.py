"""Low-stock alerts and back-in-stock e-mails, sent after the unit of work that crossed the
thresholds has committed."""

from __future__ import annotations

from app.inventory import alerts, waitlist
from tasks.queue import shop_task


@shop_task()
def alert_low_stock(variant_ids: list[int]) -> int:
    return alerts.alert_low_stock(variant_ids)


def enqueue_low_stock_alert(variant_ids: list[int]) -> None:
    alert_low_stock(sorted(set(variant_ids)))


@shop_task()
def tell_back_in_stock(variant_ids: list[int]) -> int:
    return waitlist.tell_waiting(variant_ids)


def enqueue_back_in_stock(variant_ids: list[int]) -> None:
    tell_back_in_stock(sorted(set(variant_ids)))

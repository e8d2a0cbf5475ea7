"""Business metrics for Prometheus, read from the database at scrape time.

Orders, payments, webhooks, the notification outbox and stock reservations change in web
workers, in other instances and in Huey consumers. Counting them in process memory would
show each process its own share (and lose it at every restart); the database already holds
the one true number, so each scrape asks it (a handful of indexed aggregate queries). Every
instance reports the same values: aggregate them with ``max()``, never ``sum()``.

Names follow Prometheus conventions: a ``shop_`` prefix, ``_total`` on counters, base units
(``_seconds``), labels for the dimensions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.catalog.models import Variant
from app.db import utcnow
from app.extensions import db
from app.notifications.models import Channel, Notification
from app.notifications.models import Status as NotificationStatus
from app.orders.models import Order, OrderStatus
from app.orders.services import holding_stock
from app.payments.models import EventStatus, Payment, PaymentStatus, WebhookEvent

log = logging.getLogger(__name__)
WAITING_EVENTS = (EventStatus.RECEIVED, EventStatus.PROCESSING, EventStatus.FAILED)
WAITING_MESSAGES = (
    NotificationStatus.QUEUED,
    NotificationStatus.SENDING,
    NotificationStatus.FAILED,
)


def _scalar(stmt: sa.Select[Any]) -> int:
    return int(db.session.execute(stmt).scalar() or 0)


def _age_seconds(oldest: datetime | None) -> float:
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0


class BusinessCollector(Collector):
    """Called by the /metrics view, inside its request (and its database session)."""

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # no queries when the collector is registered, only when scraped

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Each group on its own: a database in trouble costs the business numbers (and
        says so in ``shop_business_metrics_up``), never the scrape of the HTTP metrics."""
        up = GaugeMetricFamily(
            "shop_business_metrics_up",
            "1 when the business metrics below could be read from the database, by group.",
            labels=["group"],
        )
        for name, group in (
            ("orders", self._orders),
            ("webhooks", self._webhooks),
            ("outbox", self._outbox),
            ("stock", self._stock),
        ):
            try:
                with db.session.begin_nested():
                    families = list(group())
            except Exception:  # noqa: BLE001 - any database failure: report it, go on
                log.warning("business metrics %s unavailable", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up

    def _orders(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        placed = CounterMetricFamily(
            "shop_orders_placed", "Orders ever placed (paid or not: compare with paid)."
        )
        placed.add_metric([], _scalar(sa.select(sa.func.count(Order.id))))
        yield placed
        paid = CounterMetricFamily("shop_orders_paid", "Orders ever paid.")
        paid.add_metric([], _scalar(sa.select(sa.func.count(Order.paid_at))))
        yield paid
        by_status = GaugeMetricFamily("shop_orders", "Orders by status now.", labels=["status"])
        rows = db.session.execute(
            sa.select(Order.status, sa.func.count()).group_by(Order.status)
        ).all()
        counts = {status: count for status, count in rows}
        for status in OrderStatus:
            by_status.add_metric([status.value], counts.get(status.value, 0))
        yield by_status
        failed = CounterMetricFamily(
            "shop_payment_failures", "Checkout payments the provider reported as failed."
        )
        failed.add_metric(
            [],
            _scalar(
                sa.select(sa.func.count(Payment.id)).where(Payment.status == PaymentStatus.FAILED)
            ),
        )
        yield failed

    def _webhooks(self) -> Iterator[GaugeMetricFamily]:
        rows = db.session.execute(
            sa.select(WebhookEvent.status, sa.func.count(), sa.func.min(WebhookEvent.received_at))
            .where(WebhookEvent.status.in_([*WAITING_EVENTS, EventStatus.DEAD]))
            .group_by(WebhookEvent.status)
        ).all()
        waiting = GaugeMetricFamily(
            "shop_webhook_events_open",
            "Payment webhook events not handled yet (received, processing, failed), and those "
            "given up on (dead) that staff should replay.",
            labels=["status"],
        )
        seen = {status: (count, oldest) for status, count, oldest in rows}
        for status in (*WAITING_EVENTS, EventStatus.DEAD):
            waiting.add_metric([status.value], seen.get(status.value, (0, None))[0])
        yield waiting
        oldest = min(
            (seen[s][1] for s in WAITING_EVENTS if s.value in seen and seen[s][1]), default=None
        )
        lag = GaugeMetricFamily(
            "shop_webhook_lag_seconds",
            "Age of the oldest payment webhook event still waiting to be handled (0: none).",
        )
        lag.add_metric([], _age_seconds(oldest))
        yield lag

    def _outbox(self) -> Iterator[GaugeMetricFamily]:
        rows = db.session.execute(
            sa.select(Notification.channel, Notification.status, sa.func.count())
            .where(Notification.status.in_(WAITING_MESSAGES))
            .group_by(Notification.channel, Notification.status)
        ).all()
        depth = GaugeMetricFamily(
            "shop_notifications_outbox",
            "Messages waiting in the outbox, by channel and status (queued, sending, failed).",
            labels=["channel", "status"],
        )
        counts = {(channel, status): count for channel, status, count in rows}
        for channel in Channel:
            for status in WAITING_MESSAGES:  # every series, 0 included: no gaps in graphs
                depth.add_metric([channel.value, status.value], counts.get((channel, status), 0))
        yield depth
        oldest = db.session.execute(
            sa.select(sa.func.min(Notification.created_at)).where(
                Notification.status.in_(WAITING_MESSAGES)
            )
        ).scalar()
        age = GaugeMetricFamily(
            "shop_notifications_outbox_oldest_seconds",
            "Age of the oldest message still waiting to be sent (0: none).",
        )
        age.add_metric([], _age_seconds(oldest))
        yield age

    def _stock(self) -> Iterator[GaugeMetricFamily]:
        holding = GaugeMetricFamily(
            "shop_stock_reservations",
            "Unpaid orders holding stock for their shoppers now.",
        )
        holding.add_metric(
            [],
            _scalar(sa.select(sa.func.count(Order.id)).where(holding_stock())),
        )
        yield holding
        units = GaugeMetricFamily("shop_stock_reserved_units", "Units reserved, all variants.")
        units.add_metric([], _scalar(sa.select(sa.func.coalesce(sa.func.sum(Variant.reserved), 0))))
        yield units

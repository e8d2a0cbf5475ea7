"""Numbers for the staff dashboard: revenue by day and period, orders waiting to be sent,
dead letters. Every count and sum is done by the database; Python only adds up the 30 daily
rows it gets back.

Revenue is money taken: the successful payments of orders paid in the period, less what has
been refunded on those payments so far (a refund counts against the day the order was paid).
Days run midnight to midnight in the store's timezone (Settings; UTC unless changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.notifications.models import Notification
from app.notifications.models import Status as NotificationStatus
from app.orders.models import Order, OrderStatus
from app.payments.models import TAKEN_PAYMENTS, EventStatus, Payment, WebhookEvent

CHART_DAYS = 30
PERIODS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
TAKEN_PAYMENT_STATUSES = TAKEN_PAYMENTS
AWAITING_FULFILMENT = (OrderStatus.PAID, OrderStatus.PROCESSING)


@dataclass
class Money:
    orders: int = 0
    taken: int = 0
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.taken - self.refunded

    def add(self, other: Money) -> None:
        self.orders += other.orders
        self.taken += other.taken
        self.refunded += other.refunded


@dataclass
class Revenue:
    days: list[date]
    timezone: str
    # currency -> one Money per day, oldest first
    by_currency: dict[str, list[Money]] = field(default_factory=dict)

    def series(self, currency: str) -> list[Money]:
        return self.by_currency.get(currency) or [Money() for _ in self.days]

    def period(self, currency: str, days: int) -> Money:
        """The last ``days`` days, today included."""
        total = Money()
        for money in self.series(currency)[-days:]:
            total.add(money)
        return total

    @property
    def currencies(self) -> list[str]:
        return sorted(self.by_currency)


def day_boundaries(now: datetime, tz: ZoneInfo, days: int = CHART_DAYS) -> list[datetime]:
    """``days + 1`` instants: local midnight of each of the last ``days`` days (today last),
    then tomorrow's midnight. Computed per day, so a DST change gives a 23- or 25-hour day."""
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    return [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz).astimezone(ZoneInfo("UTC"))
        for i in range(days + 1)
    ]


def revenue(now: datetime, tz: ZoneInfo, days: int = CHART_DAYS) -> Revenue:
    """Orders and money per currency and local day, in one query.

    The day of each order is a CASE over the day boundaries (computed here in the store's
    timezone), which works the same on SQLite and PostgreSQL, unlike their date functions.
    Grouping happens on the subquery's column so both databases accept the expression.
    """
    bounds = day_boundaries(now, tz, days)
    day = sa.case(*((Order.paid_at < b, i) for i, b in enumerate(bounds[1:])), else_=days - 1)
    rows = (
        sa.select(
            Order.id.label("order_id"),
            Order.currency.label("currency"),
            day.label("day"),
            sa.func.coalesce(Payment.amount, 0).label("amount"),
            sa.func.coalesce(Payment.amount_refunded, 0).label("refunded"),
        )
        .outerjoin(
            Payment,
            sa.and_(Payment.order_id == Order.id, Payment.status.in_(TAKEN_PAYMENT_STATUSES)),
        )
        .where(Order.paid_at.is_not(None), Order.paid_at >= bounds[0], Order.paid_at < bounds[-1])
        .subquery()
    )
    grouped = db.session.execute(
        sa.select(
            rows.c.currency,
            rows.c.day,
            sa.func.count(sa.distinct(rows.c.order_id)),
            sa.func.sum(rows.c.amount),
            sa.func.sum(rows.c.refunded),
        ).group_by(rows.c.currency, rows.c.day)
    ).all()
    result = Revenue(
        days=[b.astimezone(tz).date() for b in bounds[:-1]],
        timezone=tz.key,
    )
    for currency, index, orders, taken, refunded in grouped:
        series = result.by_currency.setdefault(currency, [Money() for _ in range(days)])
        series[int(index)] = Money(int(orders), int(taken or 0), int(refunded or 0))
    return result


def awaiting_fulfilment(limit: int = 20) -> tuple[int, list[Order]]:
    """Paid or being prepared, oldest payment first (they have waited longest)."""
    where = Order.status.in_(AWAITING_FULFILMENT)
    total = db.session.execute(sa.select(sa.func.count()).select_from(Order).where(where))
    orders = db.session.execute(
        sa.select(Order).where(where).order_by(Order.paid_at, Order.id).limit(limit)
    ).scalars()
    return total.scalar_one(), list(orders)


def dead_letters() -> dict[str, int]:
    notifications = db.session.execute(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.status == NotificationStatus.DEAD)
    ).scalar_one()
    webhooks = db.session.execute(
        sa.select(sa.func.count())
        .select_from(WebhookEvent)
        .where(WebhookEvent.status == EventStatus.DEAD)
    ).scalar_one()
    return {"notifications": notifications, "webhook_events": webhooks}

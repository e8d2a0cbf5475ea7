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


@dataclass
class PaymentDay:
    """The checkout sessions started on one day, and what became of them (so far)."""

    day: date
    started: int = 0
    paid: int = 0
    failed: int = 0
    expired: int = 0
    refunded: int = 0  # paid, then refunded in full or in part
    disputed: int = 0  # paid, then disputed by the cardholder
    amount_paid: dict[str, int] = field(default_factory=dict)  # currency -> minor units

    def add(self, other: PaymentDay) -> None:
        for name in ("started", "paid", "failed", "expired", "refunded", "disputed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for currency, amount in other.amount_paid.items():
            self.amount_paid[currency] = self.amount_paid.get(currency, 0) + amount

    @staticmethod
    def rate(part: int, whole: int) -> float | None:
        """``part`` of ``whole`` as a fraction; None when there is no whole to divide."""
        return part / whole if whole else None

    @property
    def paid_rate(self) -> float | None:
        return self.rate(self.paid, self.started)

    @property
    def failed_rate(self) -> float | None:
        return self.rate(self.failed, self.started)

    @property
    def expired_rate(self) -> float | None:
        return self.rate(self.expired, self.started)

    @property
    def refund_rate(self) -> float | None:
        return self.rate(self.refunded, self.paid)

    @property
    def dispute_rate(self) -> float | None:
        return self.rate(self.disputed, self.paid)


FIGURE_PERIODS = (7, 30, 90)


def payment_figures(now: datetime, tz: ZoneInfo, days: int = CHART_DAYS) -> list[PaymentDay]:
    """Checkout sessions per local day of their start, oldest first, and what became of
    them: paid, failed, expired unpaid, refunded, disputed. One query; a session counts on
    the day it started, so a day's rates can be read as that day's cohort (a payment refunded
    or disputed weeks later still counts against the day it was made).

    A session still open is started but none of the others. Paid counts money taken
    (succeeded, partly or fully refunded)."""
    from app.payments.models import Dispute, PaymentStatus

    bounds = day_boundaries(now, tz, days)
    day = sa.case(*((Payment.created_at < b, i) for i, b in enumerate(bounds[1:])), else_=days - 1)
    disputed = (
        sa.select(Dispute.id)
        .where(Dispute.payment_intent == Payment.payment_intent, Payment.payment_intent != "")
        .correlate(Payment)
        .exists()
    )
    taken = Payment.status.in_(TAKEN_PAYMENT_STATUSES)

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    rows = db.session.execute(
        sa.select(
            day.label("day"),
            Payment.currency,
            sa.func.count(),
            count(taken),
            count(Payment.status == PaymentStatus.FAILED),
            count(Payment.status == PaymentStatus.EXPIRED),
            count(Payment.status.in_((PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED))),
            count(sa.and_(taken, disputed)),
            sa.func.sum(sa.case((taken, Payment.amount), else_=0)),
        )
        .where(Payment.created_at >= bounds[0], Payment.created_at < bounds[-1])
        .group_by("day", Payment.currency)
    ).all()
    result = [PaymentDay(b.astimezone(tz).date()) for b in bounds[:-1]]
    for index, currency, *numbers in rows:
        started, paid, failed, expired, refunded, disputes, amount = (int(n or 0) for n in numbers)
        result[int(index)].add(
            PaymentDay(
                result[int(index)].day,
                started,
                paid,
                failed,
                expired,
                refunded,
                disputes,
                {currency.upper(): amount} if amount else {},
            )
        )
    return result


def total(days: list[PaymentDay]) -> PaymentDay:
    whole = PaymentDay(days[0].day if days else date.today())
    for one in days:
        whole.add(one)
    return whole


FIGURE_COLUMNS = (
    "Date",
    "Sessions started",
    "Paid",
    "Paid %",
    "Failed",
    "Failed %",
    "Expired unpaid",
    "Expired %",
    "Refunded",
    "Refunded % of paid",
    "Disputed",
    "Disputed % of paid",
    "Amount paid",
)


def _percent(rate: float | None) -> float | None:
    return round(rate * 100, 1) if rate is not None else None


def figure_rows(days: list[PaymentDay]) -> list[list[object]]:
    """The figures as export rows, newest day first, then the period's total."""
    from app.core.templating import money

    def row(label: object, d: PaymentDay) -> list[object]:
        return [
            label,
            d.started,
            d.paid,
            _percent(d.paid_rate),
            d.failed,
            _percent(d.failed_rate),
            d.expired,
            _percent(d.expired_rate),
            d.refunded,
            _percent(d.refund_rate),
            d.disputed,
            _percent(d.dispute_rate),
            ", ".join(money(a, c) for c, a in sorted(d.amount_paid.items())),
        ]

    return [row(d.day.isoformat(), d) for d in reversed(days)] + [row("Total", total(days))]

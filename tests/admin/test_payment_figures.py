"""Staff payment figures: checkout sessions per day, what became of them and their rates, on
the page and in the CSV and Excel downloads."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.admin import stats
from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.orders.models import Order
from app.payments.models import Dispute, Payment
from tests.admin.helpers import sign_in_staff
from tests.admin.test_exports import read_xlsx

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def session(created_at: datetime, status: str, amount: int = 2000, *, disputed: bool = False):
    """One checkout session (a payment row) of its own order, started at ``created_at``."""
    n = next(_numbers)
    order = Order(
        number=f"SS-F{n:05d}",
        email="ada@example.com",
        currency="EUR",
        subtotal=amount,
        shipping=0,
        tax=0,
        total=amount,
        status="paid" if status in ("succeeded", "refunded", "partially_refunded") else "cancelled",
    )
    payment = Payment(
        provider="stripe",
        session_id=f"cs_fig_{n}",
        amount=amount,
        amount_refunded=amount if status == "refunded" else (500 if "partial" in status else 0),
        currency="EUR",
        status=status,
        payment_intent=f"pi_fig_{n}",
        created_at=created_at,
        updated_at=created_at,
    )
    order.payments.append(payment)
    _db.session.add(order)
    _db.session.flush()
    if disputed:
        _db.session.add(
            Dispute(
                dispute_id=f"dp_fig_{n}",
                order_id=order.id,
                payment_intent=payment.payment_intent,
                amount=amount,
                currency="EUR",
                reason="fraudulent",
                status="needs_response",
            )
        )
        _db.session.flush()


@pytest.fixture
def sessions(db):
    today, yesterday = NOW.replace(hour=9), NOW - timedelta(days=1)
    for status in ("succeeded", "succeeded", "failed", "expired", "pending"):
        session(today, status)
    session(today, "partially_refunded", disputed=True)
    session(yesterday, "succeeded", 5000)
    session(yesterday, "refunded", 3000)
    session(yesterday, "expired")
    session(NOW - timedelta(days=40), "succeeded")  # outside the 30 days
    commit_unit_of_work()


def test_sessions_are_counted_by_the_day_they_started(sessions):
    days = stats.payment_figures(NOW, ZoneInfo("UTC"), 30)
    assert len(days) == 30 and days[-1].day.isoformat() == "2026-11-25"
    today, yesterday = days[-1], days[-2]
    assert (today.started, today.paid, today.failed, today.expired) == (6, 3, 1, 1)
    assert (today.refunded, today.disputed) == (1, 1)
    assert today.amount_paid == {"EUR": 6000}
    assert today.paid_rate == 0.5 and today.dispute_rate == pytest.approx(1 / 3)
    assert (yesterday.started, yesterday.paid, yesterday.refunded) == (3, 2, 1)
    assert yesterday.refund_rate == 0.5 and yesterday.amount_paid == {"EUR": 8000}
    assert all(d.started == 0 and d.paid_rate is None for d in days[:-2])
    whole = stats.total(days)
    assert (whole.started, whole.paid, whole.failed, whole.expired) == (9, 5, 1, 2)
    assert whole.failed_rate == pytest.approx(1 / 9)


def test_staff_see_the_figures_and_download_them(client, sessions, monkeypatch):
    monkeypatch.setattr("app.admin.payments.utcnow", lambda: NOW)
    sign_in_staff(client, "staff")
    page = client.get("/admin/payments")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Sessions started</dt><dd>9</dd>" in html
    assert "5 (55.6 % of started)" in html
    assert "1 (20.0 % of paid)" in html  # disputed
    assert "see the disputed orders" in html
    assert "Wed 25 Nov" in html and "3 <small>(50.0 %)</small>" in html

    response = client.get("/admin/payments/figures.csv?days=7")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Date", "Sessions started", "Paid", "Paid %"]
    assert rows[1][:4] == ["2026-11-25", "6", "3", "50.0"]
    assert rows[1][10:12] == ["1", "33.3"]
    assert rows[-1][:3] == ["Total", "9", "5"]
    assert len(rows) == 1 + 7 + 1

    book = read_xlsx(client.get("/admin/payments/figures.xlsx?days=30"))
    assert book[1][:3] == ["2026-11-25", 6, 3]
    assert book[-1][:2] == ["Total", 9]


def test_hostile_periods_fall_back_to_thirty_days(client, sessions):
    sign_in_staff(client, "staff")
    for days in ("1e999999", "-1", "٣٠", "9" * 20, "7 "):
        response = client.get("/admin/payments", query_string={"days": days})
        assert response.status_code == 200, days
        assert '<h2 id="payments-total-title">Last 30 days</h2>' in response.get_data(as_text=True)
    assert client.get("/admin/payments?days=%00").status_code == 400  # NUL: refused early

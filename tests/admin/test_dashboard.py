import itertools
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.admin import stats, views
from app.admin.chart import bar_chart, nice_step
from app.db import commit_unit_of_work
from app.notifications.models import Notification
from app.orders.models import Order
from app.payments.models import Payment, WebhookEvent
from app.store.settings import update_store_settings
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import enrolled, sign_in_staff, sign_in_with_code
from tests.catalog import factories

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
_numbers = itertools.count(1)


def order(
    paid_at,
    total,
    *,
    currency="EUR",
    status="paid",
    refunded=0,
    payment_status=None,
    payments=None,
    email="ada@example.com",
):
    """An order as checkout leaves it once paid: the order row and its successful payment."""
    n = next(_numbers)
    row = Order(
        number=f"SS-T{n:05d}",
        email=email,
        currency=currency,
        subtotal=total,
        shipping=0,
        tax=0,
        total=total,
        status=status,
        paid_at=paid_at,
    )
    for i, (amount, amount_refunded, pstatus) in enumerate(
        payments
        or [
            (total, refunded, payment_status or ("partially_refunded" if refunded else "succeeded"))
        ]
    ):
        row.payments.append(
            Payment(
                provider="sandbox",
                session_id=f"cs_dash_{n}_{i}",
                amount=amount,
                amount_refunded=amount_refunded,
                currency=currency,
                status=pstatus,
            )
        )
    from app.extensions import db

    db.session.add(row)
    db.session.flush()
    return row


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def history(db):
    """Orders on different days around NOW (Wednesday 25 Nov 2026, 15:00 UTC)."""
    order(at("2026-11-25 09:00"), 10000)  # today
    order(at("2026-11-25 00:30"), 2000, refunded=500)  # today, partly refunded
    order(  # today, paid twice: the second payment was refunded in full
        at("2026-11-25 11:00"), 5000, payments=[(5000, 0, "succeeded"), (5000, 5000, "refunded")]
    )
    order(at("2026-11-25 12:00"), 999, currency="GBP")  # today, other currency
    order(at("2026-11-24 23:59:59"), 5000)  # yesterday
    order(at("2026-11-19 00:00"), 3000, status="shipped")  # first day of the 7
    order(at("2026-11-18 23:00"), 4000, status="delivered")  # just outside the 7
    order(at("2026-10-27 00:00"), 7000, status="delivered")  # first day of the 30
    order(at("2026-10-26 23:59"), 8000, status="delivered")  # just outside the 30
    order(None, 6000, status="pending_payment", payment_status="pending")  # never paid
    order(  # an expired attempt does not count, the paid one does
        at("2026-11-20 10:00"), 1500, payments=[(1500, 0, "expired"), (1500, 0, "succeeded")]
    )


def test_revenue_by_period_and_currency(history):
    revenue = stats.revenue(NOW, UTC_ZONE)
    assert revenue.currencies == ["EUR", "GBP"]
    assert len(revenue.days) == 30
    assert (revenue.days[0], revenue.days[-1]) == (date(2026, 10, 27), date(2026, 11, 25))

    today = revenue.period("EUR", 1)
    assert (today.orders, today.taken, today.refunded, today.net) == (3, 22000, 5500, 16500)
    week = revenue.period("EUR", 7)
    assert (week.orders, week.net) == (6, 16500 + 5000 + 3000 + 1500)
    month = revenue.period("EUR", 30)
    assert (month.orders, month.net) == (8, 16500 + 5000 + 3000 + 1500 + 4000 + 7000)
    gbp = revenue.period("GBP", 30)
    assert (gbp.orders, gbp.net) == (1, 999)
    assert revenue.period("USD", 30).orders == 0


def test_daily_series_has_every_day_and_zeros(history):
    series = stats.revenue(NOW, UTC_ZONE).series("EUR")
    by_day = dict(zip(stats.revenue(NOW, UTC_ZONE).days, (m.net for m in series), strict=True))
    assert by_day[date(2026, 11, 25)] == 16500
    assert by_day[date(2026, 11, 24)] == 5000
    assert by_day[date(2026, 11, 20)] == 1500
    assert by_day[date(2026, 10, 27)] == 7000
    assert by_day[date(2026, 11, 1)] == 0
    assert sum(1 for net in by_day.values() if net) == 6


def test_days_follow_the_store_timezone(db):
    order(at("2026-11-25 03:00"), 4200)  # 22:00 on the 24th in New York
    new_york = stats.revenue(NOW, ZoneInfo("America/New_York"))
    assert new_york.period("EUR", 1).orders == 0
    assert new_york.series("EUR")[-2].net == 4200
    assert stats.revenue(NOW, UTC_ZONE).period("EUR", 1).net == 4200


def test_a_daylight_saving_day_is_25_hours_long():
    bounds = stats.day_boundaries(NOW, ZoneInfo("Europe/Dublin"), days=40)
    lengths = {b2 - b1 for b1, b2 in zip(bounds, bounds[1:], strict=False)}
    assert lengths == {timedelta(hours=24), timedelta(hours=25)}  # 25 Oct 2026 clocks go back
    assert bounds[-1] == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_nice_steps_and_chart_geometry():
    assert nice_step(0, 4, 100) == 100
    assert nice_step(16500, 4, 100) == 5000
    assert nice_step(40001, 4, 100) == 20000
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    chart = bar_chart(days, [0, 10000, 20000], unit=100)
    assert [b.height for b in chart.bars][0] == 0
    assert chart.bars[2].height == pytest.approx(2 * chart.bars[1].height)
    assert chart.bars[2].y + chart.bars[2].height == chart.bottom
    assert chart.peak.day == date(2026, 11, 3) and chart.total == 30000
    assert [t.value for t in chart.ticks] == [0, 5000, 10000, 15000, 20000]


def test_awaiting_fulfilment_lists_paid_and_processing_oldest_first(db):
    newer = order(at("2026-11-25 09:00"), 1000)
    older = order(at("2026-11-20 09:00"), 1000, status="processing")
    order(at("2026-11-19 09:00"), 1000, status="shipped")
    total, waiting = stats.awaiting_fulfilment()
    assert total == 2 and [o.id for o in waiting] == [older.id, newer.id]


def test_anonymous_and_customers_get_404(client, db):
    assert client.get("/admin/").status_code == 404
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    assert client.get("/admin/").status_code == 404


def test_staff_without_two_factor_are_sent_to_enrol(client, db):
    make_user("staff@example.com", role="staff")
    first = login(client, "staff@example.com")
    assert first.headers["Location"] == "/account/two-factor"
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_enrolled_staff_see_the_dashboard_with_low_stock(client, db, role):
    factories.product("Nearly Gone Lamp", stock=2)
    factories.product("Plenty Mugs", stock=50)
    commit_unit_of_work()
    user = enrolled(f"{role}@example.com", role)
    assert sign_in_with_code(client, user).status_code == 302
    html = client.get("/admin/").get_data(as_text=True)
    assert "Staff dashboard" in html and "Nearly Gone Lamp" in html
    assert "Plenty Mugs" not in html
    assert ("<code>refunds.issue</code>" in html) is (role == "admin")


@pytest.fixture
def pinned(monkeypatch):
    monkeypatch.setattr(views, "_now", lambda: NOW)


def _rows(html: str, caption: str) -> dict[str, list[str]]:
    table = html.split(caption, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_page_shows_periods_chart_and_its_data_table(client, history, pinned):
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Days run midnight to midnight in <strong>UTC</strong>" in html

    periods = _rows(html, "<caption>Orders and revenue in EUR</caption>")
    assert periods["Today"] == ["3", "€220.00", "€55.00", "€165.00"]
    assert periods["Last 7 days"][0] == "6" and periods["Last 7 days"][-1] == "€260.00"
    assert periods["Last 30 days"][0] == "8" and periods["Last 30 days"][-1] == "€370.00"
    assert "<caption>Orders and revenue in GBP</caption>" in html

    eur_chart = html.split('aria-labelledby="chart-EUR-title chart-EUR-desc"', 1)[1].split(
        "</svg>"
    )[0]
    assert "<script" not in eur_chart and "style=" not in eur_chart  # CSP: no inline code
    bars = re.findall(
        r'<rect class="chart-bar"[^>]*data-day="([^"]+)" data-value="(\d+)"', eur_chart
    )
    assert len(bars) == 30
    assert bars[-1] == ("2026-11-25", "16500") and bars[0] == ("2026-10-27", "7000")
    assert dict(bars)["2026-11-01"] == "0"
    heights = dict(
        (d, float(h)) for h, d in re.findall(r'height="([\d.]+)" data-day="([^"]+)"', eur_chart)
    )
    assert heights["2026-11-01"] == 0 and heights["2026-11-25"] > heights["2026-11-24"] > 0
    assert (
        '<title id="chart-EUR-title">Revenue per day in EUR, 27 Oct to 25 Nov 2026</title>' in html
    )
    assert "Highest: €165.00 on 25 Nov" in eur_chart

    daily = _rows(html, "<caption>Revenue by day in EUR, UTC</caption>")
    assert len(daily) == 30
    assert daily["Wed 25 Nov 2026"] == ["3", "€165.00"]
    assert daily["Sun 1 Nov 2026"] == ["0", "€0.00"]
    assert daily["Thu 19 Nov 2026"] == ["1", "€30.00"]


def test_the_page_uses_the_store_timezone(client, db, pinned):
    order(at("2026-11-25 03:00"), 4200)
    update_store_settings({"timezone": "America/New_York"})
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/").get_data(as_text=True)
    assert "in <strong>America/New_York</strong>" in html
    assert _rows(html, "<caption>Orders and revenue in EUR</caption>")["Today"][0] == "0"
    assert _rows(html, "<caption>Revenue by day in EUR, America/New_York</caption>")[
        "Tue 24 Nov 2026"
    ] == ["1", "€42.00"]


def test_with_no_orders_the_chart_is_all_zero_bars(client, db, pinned):
    sign_in_staff(client, "staff")
    html = client.get("/admin/").get_data(as_text=True)
    bars = re.findall(r'<rect class="chart-bar"[^>]*data-value="(\d+)"', html)
    assert bars == ["0"] * 30
    assert "No revenue on any day." in html
    assert "No paid orders are waiting to be sent." in html


def test_orders_awaiting_fulfilment_and_dead_letters_are_listed(client, db, pinned):
    order(at("2026-11-24 08:00"), 2500, email="waiting@example.com")
    order(at("2026-11-24 09:00"), 2500, status="shipped", email="gone@example.com")
    for i in range(2):
        from app.extensions import db as _db

        _db.session.add(
            Notification(
                to_address=f"x{i}@example.com",
                channel="email",
                template="welcome",
                variables={},
                category="transactional",
                status="dead",
            )
        )
    _db.session.add(WebhookEvent(event_id="evt_dead_1", type="x", payload={}, status="dead"))
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/").get_data(as_text=True)
    section = html.split('id="waiting-title"', 1)[1].split("</section>", 1)[0]
    assert "waiting@example.com" in section and "gone@example.com" not in section
    assert "1 paid order not yet shipped" in section
    if "admin.orders_detail" in client.application.view_functions:  # the orders screens exist
        assert re.search(r'<a href="/admin/orders/\d+">SS-T\d+</a>', section)
    else:
        assert "<a " not in section.split("<tbody>")[1]
    dead = html.split('id="dead-title"', 1)[1].split("</section>", 1)[0]
    assert "2 dead notifications" in dead and "1 dead webhook event" in dead
    if "admin.notifications" in client.application.view_functions:
        assert 'href="/admin/notifications?status=dead"' in dead
    if "admin.webhook_events" in client.application.view_functions:
        assert 'href="/admin/webhook-events?status=dead"' in dead


def test_links_appear_only_for_screens_that_exist(app, db):
    with app.test_request_context():
        assert views.admin_url_if("admin.no_such_screen", id=1) is None
        assert views.admin_url_if("admin.settings_shipping_edit", id=1) is None  # needs method_id
        assert (
            views.admin_url_if("admin.settings_shipping_edit", method_id=3, id=9)
            == "/admin/settings/shipping/3"
        )
        assert (
            views.admin_url_if("admin.settings_tax", _query={"q": "x"}) == "/admin/settings/tax?q=x"
        )


def test_the_number_of_queries_does_not_grow_with_orders(client, db, pinned, count_queries):
    sign_in_staff(client, "staff")

    def queries_for_dashboard():
        before = count_queries.count
        assert client.get("/admin/").status_code == 200
        return count_queries.count - before

    for day in range(3):
        order(NOW - timedelta(days=day), 1000)
    commit_unit_of_work()
    few = queries_for_dashboard()
    for day in range(40):
        order(NOW - timedelta(days=day, hours=1), 1000, status="processing")
    commit_unit_of_work()
    assert queries_for_dashboard() == few

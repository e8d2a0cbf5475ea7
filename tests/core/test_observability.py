import json
import logging
import re

import pytest

from app.core.observability import RequestIdFilter


def test_request_id_is_generated_and_echoed(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_well_formed_client_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a9c21-lb1"})
    assert response.headers["X-Request-ID"] == "edge-7f3a9c21-lb1"


def test_malformed_client_request_id_is_replaced(client):
    for bad in [
        "short",
        "x" * 300,
        "evil;Set-Cookie: a=b",
        "<script>alert(1)</script>",
        "ünïcode-id-123",
    ]:
        echoed = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_every_log_line_in_a_request_has_the_request_id(app, client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/nope", headers={"X-Request-ID": "req-0123456789"})
    client.get("/__test/boom", headers={"X-Request-ID": "req-boom-0123456"})
    stamped = [r for r in caplog.records if r.name.startswith("app")]
    assert stamped
    assert {getattr(r, "request_id", None) for r in stamped} <= {
        "req-0123456789",
        "req-boom-0123456",
    }


def test_production_logs_are_json_with_request_id(app, capsys):
    from app.core.observability import configure_logging

    app.config["LOG_FORMAT"] = "json"
    configure_logging(app)
    try:
        with app.test_request_context("/", headers={"X-Request-ID": "json-req-123456"}):
            app.preprocess_request()
            logging.getLogger("app.test").warning("hello\nforged line")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "hello\nforged line"  # escaped inside one JSON line
        assert record["request_id"] == "json-req-123456"
        assert record["level"] == "WARNING"
    finally:
        app.config["LOG_FORMAT"] = "text"
        configure_logging(app)


def test_text_logs_escape_newlines(app):
    from app.core.observability import SafeTextFormatter

    record = logging.LogRecord("app", logging.INFO, __file__, 1, "a\nFAKE ENTRY", None, None)
    RequestIdFilter().filter(record)
    assert "\n" not in SafeTextFormatter("%(message)s").format(record)


def test_metrics_count_requests_by_endpoint_and_status(client):
    client.get("/healthz")
    client.get("/nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(
        r'shop_http_requests_total\{endpoint="core.healthz",method="GET",status="200"\} [1-9]', text
    )
    assert re.search(r'shop_http_requests_total\{endpoint="none",method="GET",status="404"\}', text)
    assert "shop_http_request_duration_seconds_bucket" in text
    assert 'shop_app_info{env="testing"' in text


def test_metrics_can_be_restricted_to_scrapers(app, client):
    app.config["METRICS_ALLOWED_IPS"] = ["10.0.0.0/8"]
    try:
        assert client.get("/metrics").status_code == 404
        allowed = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert allowed.status_code == 200
    finally:
        app.config["METRICS_ALLOWED_IPS"] = []


def test_probes_and_metrics_are_not_rate_limited(app, client):
    for _ in range(5):
        assert client.get("/__test/limited").status_code in {200, 429}
    assert client.get("/__test/limited").status_code == 429
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_production_serves_metrics_to_nobody_until_told_whom(make_app):
    """/metrics tells anyone who can reach it the shop's traffic and errors: in production it
    is closed until METRICS_ALLOWED_IPS or METRICS_TOKEN names the scraper, and the start
    says so."""
    from app.core.views import metrics_open_to

    closed = make_app(SHOP_ENV="production", METRICS_ALLOWED_IPS=[], METRICS_TOKEN=None)
    client = closed.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404
    with closed.app_context():
        assert metrics_open_to().startswith("nobody: set METRICS_ALLOWED_IPS or METRICS_TOKEN")

    by_token = make_app(SHOP_ENV="production", METRICS_TOKEN="s3cret-scraper-token")
    client = by_token.test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper-token"})
    assert ok.status_code == 200 and "shop_http_requests" in ok.get_data(as_text=True)

    by_ip = make_app(SHOP_ENV="production", METRICS_ALLOWED_IPS=["10.0.0.0/8"])
    client = by_ip.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "11.0.0.1"}).status_code == 404


def test_a_mistyped_metrics_network_stops_the_start():
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="METRICS_ALLOWED_IPS: '10.0.0.0/33'"):
        load_config({"SHOP_ENV": "development", "METRICS_ALLOWED_IPS": "10.0.0.0/8, 10.0.0.0/33"})


def test_identical_errors_are_written_once_per_interval_with_a_count():
    from app.core.observability import RepeatFilter

    repeat = RepeatFilter(interval=60)
    logger = logging.getLogger("app.test.repeat")

    def record(msg: str, level: int = logging.WARNING, exc: BaseException | None = None):
        exc_info = (type(exc), exc, None) if exc else None
        return logger.makeRecord(logger.name, level, __file__, 1, msg, (), exc_info)

    written = [repeat.filter(record("redis down", exc=ConnectionError())) for _ in range(500)]
    assert written.count(True) == 1
    assert repeat.filter(record("redis down", exc=TimeoutError()))  # another failure: written
    assert repeat.filter(record("smtp down"))
    assert all(repeat.filter(record("page served", logging.INFO)) for _ in range(3))
    repeat._seen[("app.test.repeat", logging.WARNING, "redis down", "ConnectionError")][0] -= 61
    later = record("redis down", exc=ConnectionError())
    assert repeat.filter(later)
    assert later.getMessage() == "redis down (and 499 more like it in 60 s)"


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} missing"
    return float(match.group(1))


def test_business_metrics_follow_orders_webhooks_outbox_and_stock(app, client, db):
    """Read from the database at scrape time: the same numbers in every worker, instance
    and Huey consumer, whoever changed them."""
    from datetime import timedelta

    from app.db import commit_unit_of_work, utcnow
    from app.payments.models import WebhookEvent
    from tests.checkout.helpers import path_of, pay, sandbox_action, submit_details
    from tests.checkout.test_checkout_sandbox import setup_cart

    setup_cart(client, db, quantity=2)
    submit_details(client)
    session_url = pay(client).headers["Location"]
    text = client.get("/metrics").get_data(as_text=True)
    assert _metric(text, "shop_orders_placed_total") == 1
    assert _metric(text, 'shop_orders{status="pending_payment"}') == 1
    assert _metric(text, "shop_orders_paid_total") == 0
    assert _metric(text, "shop_stock_reservations") == 1
    assert _metric(text, "shop_stock_reserved_units") == 2

    sandbox_action(client, session_url, "pay")
    client.get(path_of(session_url))
    db.session.add(
        WebhookEvent(
            event_id="evt_stuck",
            type="checkout.session.completed",
            payload={},
            received_at=utcnow() - timedelta(minutes=5),
        )
    )
    commit_unit_of_work()
    text = client.get("/metrics").get_data(as_text=True)
    assert _metric(text, "shop_orders_paid_total") == 1
    assert _metric(text, 'shop_orders{status="paid"}') == 1
    assert _metric(text, "shop_stock_reservations") == 0
    assert _metric(text, "shop_stock_reserved_units") == 0
    assert _metric(text, 'shop_webhook_events_open{status="received"}') == 1
    assert 295 < _metric(text, "shop_webhook_lag_seconds") < 400
    # The confirmation email went out at once (immediate tasks in tests): nothing waits.
    assert _metric(text, 'shop_notifications_outbox{channel="email",status="queued"}') == 0
    assert _metric(text, "shop_notifications_outbox_oldest_seconds") == 0
    counters = re.findall(r"^# TYPE (shop_\w+) counter$", text, re.M)
    assert "shop_orders_paid_total" in counters
    assert all(name.endswith("_total") for name in counters)  # Prometheus naming


def test_a_database_failure_costs_the_business_metrics_not_the_scrape(client, db, monkeypatch):
    from app.metrics import BusinessCollector

    def broken(self):
        raise RuntimeError("database unavailable")
        yield  # a generator, like the real groups

    monkeypatch.setattr(BusinessCollector, "_orders", broken)
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert _metric(text, 'shop_business_metrics_up{group="orders"}') == 0
    assert _metric(text, 'shop_business_metrics_up{group="stock"}') == 1
    assert "shop_orders_placed_total" not in text
    assert "shop_stock_reservations" in text and "shop_http_requests_total" in text


def test_reservations_count_every_order_holding_stock(client, db):
    """A failed payment keeps its stock for a retry: it still holds a reservation."""
    from app.db import commit_unit_of_work
    from app.orders.models import Order, OrderStatus
    from tests.checkout.helpers import pay, submit_details
    from tests.checkout.test_checkout_sandbox import setup_cart

    setup_cart(client, db, quantity=1)
    submit_details(client)
    pay(client)
    order = db.session.query(Order).one()
    order.status = OrderStatus.PAYMENT_FAILED
    commit_unit_of_work()
    assert _metric(client.get("/metrics").get_data(as_text=True), "shop_stock_reservations") == 1

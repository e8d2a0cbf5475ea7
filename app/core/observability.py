"""Request ids, logging and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def current_request_id() -> str:
    if has_request_context():
        return getattr(g, "request_id", "-")
    return "-"


class RequestIdFilter(logging.Filter):
    """Stamps every log record with the request id (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class RepeatFilter(logging.Filter):
    """Identical warnings and errors (same logger, same message, same exception type) are
    written once per ``interval`` seconds: a dead Redis or SMTP server fails on every request,
    and one traceback per page would fill the disk and bury everything else. The next line
    written after a quiet spell says how many were left out.

    Only the shop's own handler carries it (test and other handlers see every record)."""

    MAX_KEYS = 1000

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._seen: dict[tuple[str, int, str, str], list[float]] = {}  # key → [since, count]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or self.interval <= 0:
            return True
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, record.levelno, record.getMessage()[:500], exc)
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval:
                seen[1] += 1
                return False
            if len(self._seen) >= self.MAX_KEYS:
                self._seen.clear()
            self._seen[key] = [now, 0]
        if seen is not None and seen[1]:
            left_out = int(seen[1])
            record.msg = f"{record.msg} (and {left_out} more like it in {self.interval:.0f} s)"
        return True


class SafeTextFormatter(logging.Formatter):
    """Human-readable lines; CR/LF in messages are escaped so logs cannot be forged."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, sep, tail = text.partition("\nTraceback")
        return head.replace("\r", "\\r").replace("\n", "\\n") + (sep + tail if sep else "")


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RepeatFilter(app.config["LOG_REPEAT_SECONDS"]))
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            SafeTextFormatter("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    # Replace handlers we installed before (tests build several apps in one process).
    for existing in list(root.handlers):
        if getattr(existing, "_shop_handler", False):
            root.removeHandler(existing)
    handler._shop_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # huey_consumer gives the "huey" logger a handler of its own; its records also reach ours
    # through the root, which would write every task line twice.
    huey_logger = logging.getLogger("huey")
    for existing in list(huey_logger.handlers):
        huey_logger.removeHandler(existing)
    app.logger.handlers.clear()
    app.logger.propagate = True
    # fontTools reports every table it subsets at INFO: some fifty lines for each invoice or
    # packing slip, which would bury the shop's own lines (and cost the download its time).
    # Its warnings and errors still come; under LOG_LEVEL=DEBUG its own debug lines do not.
    logging.getLogger("fontTools").setLevel(max(logging.WARNING, root.level))


class Metrics:
    """HTTP metrics in a registry of the app's own (several apps can live in one process),
    plus collectors that read their numbers at scrape time (``add_collector``).

    Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory,
    before the workers start) and the scrape aggregates every worker's numbers. Only
    counters, histograms and gauges with a multiprocess mode survive that aggregation (an
    ``Info`` metric does not), so the build info is a gauge whose labels carry it.
    """

    def __init__(self, app: Flask) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shop_http_requests_total",
            "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shop_http_request_duration_seconds",
            "HTTP request latency by endpoint and method.",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.info = Gauge(
            "shop_app_info",
            "ShopSphere build and environment (always 1; the labels say which).",
            ["version", "env"],
            registry=self.registry,
            multiprocess_mode="max",  # one series for all workers, not one per pid
        )
        self.info.labels("0.1.0", app.config["SHOP_ENV"]).set(1)
        self.collectors: list[Collector] = []

    def add_collector(self, collector: Collector) -> None:
        """A collector that reads its numbers when scraped (e.g. from the database)."""
        self.collectors.append(collector)

    def exposition_registry(self) -> CollectorRegistry:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            prom_multiprocess.MultiProcessCollector(registry)
        else:
            registry = CollectorRegistry()
            registry.register(_Forward(self.registry))
        for collector in self.collectors:
            registry.register(collector)
        return registry


class _Forward(Collector):
    """This process's own metrics, in a scrape's registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        return self.source.collect()


def register_observability(app: Flask) -> None:
    configure_logging(app)
    metrics = Metrics(app)
    app.extensions["shop_metrics"] = metrics
    log = logging.getLogger("app.request")

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = getattr(g, "request_started", None)
        endpoint = request.endpoint or "none"
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.latency.labels(endpoint, request.method).observe(elapsed)
            metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
            if response.status_code >= 500:
                log.error("%s %s -> %s", request.method, request.path, response.status_code)
        return response

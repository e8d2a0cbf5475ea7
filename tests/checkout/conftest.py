"""Checkout fixtures: the strict fake Stripe, and an app of its own for real-thread tests."""

from __future__ import annotations

import flask_migrate
import pytest
import stripe

from app import create_app
from app.extensions import db as _db
from app.payments import stripe_gateway
from tests.conftest import IsolatedClient, app_config
from tests.databases import temporary_database
from tests.fakes.stripe_server import FakeStripe


def point_at(app, fake: FakeStripe, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "stripe")
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_shop")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.url)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_test_shop")
    # The SDK sleeps 0.5-1 s between retries; what is retried matters here, not the wait.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)
    stripe_gateway.reset(app)


@pytest.fixture
def fake_stripe(app, monkeypatch):
    fake = FakeStripe().start()
    point_at(app, fake, monkeypatch)
    yield fake
    stripe_gateway.reset(app)
    fake.stop()


@pytest.fixture(scope="module")
def own_app(tmp_root, request):
    """An app on a database of its own (migrated, then dropped), for tests whose threads
    commit for real, as several shoppers or app instances would."""
    with temporary_database(tmp_root, f"own_{request.module.__name__.rsplit('.', 1)[-1]}") as url:
        app = create_app(app_config(url))
        app.test_client_class = IsolatedClient
        with app.app_context():
            flask_migrate.upgrade()
        yield app
        with app.app_context():
            _db.engine.dispose()

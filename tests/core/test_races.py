"""Concurrent duplicates end in a clear answer, never a 500: requests from real threads at the
same instant, each committing for real, on a database of this module's own (PostgreSQL in
CI's second run, where these races used to answer 500)."""

from __future__ import annotations

import re

import flask_migrate
import pytest
import sqlalchemy as sa

from app import create_app
from app.accounts.models import User
from app.cart.models import Cart, CartLine
from app.catalog.services import VariantInput
from app.checkout.models import CheckoutDetails
from app.db import unit_of_work
from app.extensions import db
from app.notifications.models import Suppression
from app.notifications.rendering import unsubscribe_token
from tests.api.helpers import SHIPPING_ADDRESS, guest
from tests.catalog import factories
from tests.concurrency import run_at_once
from tests.conftest import IsolatedClient, app_config
from tests.databases import temporary_database

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture(scope="module")
def racing_app(tmp_root):
    with temporary_database(tmp_root, "races") as url:
        app = create_app(app_config(url, RATELIMIT_ENABLED=False))
        app.test_client_class = IsolatedClient
        with app.app_context():
            flask_migrate.upgrade()
        yield app
        with app.app_context():
            db.engine.dispose()


def _count(app, stmt) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(stmt)).scalar_one()


def test_same_email_sign_ups_at_once_make_one_account(racing_app):
    app = racing_app
    clients = [app.test_client() for _ in range(6)]
    tokens = [_CSRF.search(c.get("/account/signup").get_data(as_text=True))[1] for c in clients]

    def sign_up(i: int):
        return clients[i].post(
            "/account/signup",
            data={
                "name": "Twin",
                "email": "twin@example.com",
                "password": "two tabs one passphrase",
                "csrf_token": tokens[i],
            },
        )

    responses = run_at_once(app, 6, sign_up)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(302) == 1, statuses
    assert all(s < 500 for s in statuses), statuses
    for response in responses:
        if response.status_code != 302:
            assert "An account with this email already exists" in response.get_data(as_text=True)

    api = app.test_client()
    body = {"name": "Twin", "email": "api-twin@example.com", "password": "two apps one passphrase"}
    answers = run_at_once(app, 6, lambda i: api.post("/api/v1/auth/register", json=body))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5
    assert {r.get_json().get("code") for r in answers if r.status_code == 409} == {"account-exists"}
    emails = sa.select(User).where(User.email.in_(["twin@example.com", "api-twin@example.com"]))
    assert _count(app, emails.subquery()) == 2


def test_concurrent_checkout_details_for_one_cart_keep_one_record(racing_app):
    app = racing_app
    with app.app_context(), unit_of_work():
        variant = factories.product("Racing Mug", stock=50).variants[0]
        variant_id = variant.id
    client = app.test_client()
    token = client.post("/api/v1/cart").get_json()["cart_token"]
    assert (
        client.post(
            "/api/v1/cart/items",
            json={"variant_id": variant_id, "quantity": 1},
            headers=guest(token),
        ).status_code
        == 200
    )

    def put(i: int):
        body = {
            "email": f"racer{i}@example.com",
            "shipping_address": SHIPPING_ADDRESS,
            "shipping_method": "standard",
        }
        return client.put("/api/v1/checkout/details", json=body, headers=guest(token))

    responses = run_at_once(app, 8, put)
    assert [r.status_code for r in responses] == [200] * 8
    with app.app_context():
        cart_id = db.session.execute(sa.select(Cart.id).where(Cart.token == token)).scalar_one()
        rows = db.session.execute(
            sa.select(CheckoutDetails.email).where(CheckoutDetails.cart_id == cart_id)
        ).all()
    assert len(rows) == 1 and rows[0][0].startswith("racer")
    summary = client.get("/api/v1/checkout/summary", headers=guest(token))
    assert summary.status_code == 200 and summary.get_json()["email"] == rows[0][0]


def test_one_click_unsubscribes_at_once_all_succeed_once(racing_app):
    app = racing_app
    with app.test_request_context():
        link = f"/unsubscribe/{unsubscribe_token('Many.Clicks@example.com', 'marketing')}"
    client = app.test_client()
    responses = run_at_once(app, 8, lambda i: client.post(link))
    assert [r.status_code for r in responses] == [200] * 8
    assert all("unsubscribed" in r.get_data(as_text=True).lower() for r in responses)
    suppressed = sa.select(Suppression).where(Suppression.address == "many.clicks@example.com")
    assert _count(app, suppressed.subquery()) == 1


def test_parallel_adds_never_grow_a_cart_past_its_line_limit(racing_app):
    app = racing_app
    limit = app.config["CART_MAX_LINES"]
    with app.app_context(), unit_of_work():
        product = factories.product(
            "Racing Sampler",
            variants=[
                VariantInput(sku=f"RACE-{n:03d}", price=500, options={"n": str(n)}, stock=5)
                for n in range(limit + 7)
            ],
        )
        ids = [v.id for v in sorted(product.variants, key=lambda v: v.id)]
    client = app.test_client()
    token = client.post("/api/v1/cart").get_json()["cart_token"]
    for variant_id in ids[: limit - 5]:
        add = client.post(
            "/api/v1/cart/items",
            json={"variant_id": variant_id, "quantity": 1},
            headers=guest(token),
        )
        assert add.status_code == 200
    rest = ids[limit - 5 :]  # 12 different items for the last 5 places

    def add_one(i: int):
        return client.post(
            "/api/v1/cart/items", json={"variant_id": rest[i], "quantity": 1}, headers=guest(token)
        )

    responses = run_at_once(app, len(rest), add_one)
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 5, statuses
    assert all(400 <= s < 500 for s in statuses if s != 200), statuses
    with app.app_context():
        cart_id = db.session.execute(sa.select(Cart.id).where(Cart.token == token)).scalar_one()
    assert _count(app, sa.select(CartLine).where(CartLine.cart_id == cart_id).subquery()) == limit
    page = client.get("/api/v1/cart", headers=guest(token)).get_json()
    assert len(page["lines"]) == limit

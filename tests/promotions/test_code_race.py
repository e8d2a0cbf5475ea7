"""50 shoppers press Pay at the same moment with a code that has 10 uses left: exactly 10
discounted orders are placed and paid, and the other 40 are told, with nothing lost (real
threads and commits, SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.db import unit_of_work
from app.extensions import db
from app.orders.models import Order, OrderStatus
from app.payments import sandbox
from app.payments.models import SandboxSession
from app.promotions.models import OrderDiscount, Promotion, UseState, VoucherCode
from tests.catalog import factories
from tests.checkout.helpers import DETAILS, token
from tests.concurrency import run_at_once
from tests.promotions.helpers import promotion

SHOPPERS = 50
USES = 10


def test_fifty_shoppers_race_for_a_ten_use_code(own_app):
    app = own_app
    code = f"RACE{uuid.uuid4().hex[:6].upper()}"
    with app.app_context(), unit_of_work():
        variant_id = factories.product("Race Tee", price=2000, stock=SHOPPERS).variants[0].id
        promotion_id = promotion("Race day", code=code, value=25, usage_limit=USES).id
    shoppers = []
    for i in range(SHOPPERS):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"  # 50 people, 50 addresses
        client.post(
            "/cart/add",
            data={"variant_id": variant_id, "quantity": 1, "csrf_token": token(client, "/cart")},
        )
        applied = client.post(
            "/cart/code", data={"code": code, "csrf_token": token(client, "/cart")}
        )
        assert applied.status_code == 303  # nobody holds a use yet: every cart may try
        details = {**DETAILS, "email": f"racer{i}@example.com"}
        client.post("/checkout", data={**details, "csrf_token": token(client, "/checkout")})
        shoppers.append(client)
    forms = [token(client, "/checkout/review") for client in shoppers]

    def press(index: int) -> str:
        response = shoppers[index].post(
            "/checkout/pay", data={"csrf_token": forms[index], "accept_terms": "y"}
        )
        assert response.status_code == 303
        return response.headers["Location"]

    outcomes = run_at_once(app, SHOPPERS, press)
    assert [o for o in outcomes if not isinstance(o, str)] == []
    paying = [url for url in outcomes if "/sandbox/checkout/" in url]
    refused = [url for url in outcomes if url == "/cart"]
    assert (len(paying), len(refused)) == (USES, SHOPPERS - USES)
    told = shoppers[outcomes.index("/cart")].get("/cart").get_data(as_text=True)
    assert f"The code {code} has" in told and "used up" in told
    with app.app_context(), unit_of_work():
        for url in paying:
            session = db.session.get(SandboxSession, url.rsplit("/", 1)[1])
            sandbox.act(session.id, "pay")
            sandbox.deliver(session, "checkout.session.completed")
    with app.app_context():
        paid = (
            db.session.execute(
                sa.select(Order)
                .join(OrderDiscount, OrderDiscount.order_id == Order.id)
                .where(OrderDiscount.promotion_id == promotion_id)
            )
            .scalars()
            .all()
        )
        assert len(paid) == USES
        assert {o.status for o in paid} == {OrderStatus.PAID}
        assert {(o.subtotal, o.discount, o.total) for o in paid} == {(2000, 500, 1500 + 495)}
        states = (
            db.session.execute(
                sa.select(OrderDiscount.state).where(OrderDiscount.promotion_id == promotion_id)
            )
            .scalars()
            .all()
        )
        assert states == [UseState.USED] * USES
        uses = db.session.execute(
            sa.select(Promotion.uses).where(Promotion.id == promotion_id)
        ).scalar_one()
        code_uses = db.session.execute(
            sa.select(VoucherCode.uses).where(VoucherCode.code == code)
        ).scalar_one()
        assert (uses, code_uses) == (USES, USES)
        others = db.session.execute(
            sa.select(sa.func.count()).select_from(Order).where(Order.email.like("racer%"))
        ).scalar_one()
        assert others == USES  # the refused shoppers have no half-made order

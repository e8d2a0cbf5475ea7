"""Orders API: cursor pages newest first, detail, status, cancellation by the website's rule."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from app.catalog.models import Variant
from app.checkout.completion import complete_session as fulfil_checkout_session
from app.extensions import db
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus
from tests.accounts.helpers import make_user
from tests.api.helpers import bearer, tokens
from tests.catalog import factories
from tests.checkout.helpers import paid_sandbox_session
from tests.orders.helpers import order_for


@pytest.fixture
def ada(client, db):
    user = make_user()
    return user, bearer(tokens(client)["access_token"])


@pytest.fixture
def mug(db):
    return factories.product("Stoneware Mug", price=1500, stock=50).variants[0]


def place(user, variant, quantity=1) -> Order:
    order = order_for([(variant, quantity)], email=user.email)
    order.user_id = user.id
    db.session.flush()
    return order


def paid(user, variant, quantity=1, prefix="t") -> Order:
    order = place(user, variant, quantity)
    fulfil_checkout_session(paid_sandbox_session(order, prefix))
    assert order.status == OrderStatus.PAID
    return order


def cursor(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_list_is_newest_first_in_cursor_pages(client, db, ada, mug):
    user, headers = ada
    made = [place(user, mug, quantity=i + 1) for i in range(5)]
    paid(user, mug, prefix="p")
    bob = make_user("bob@example.com", name="Bob")
    place(bob, mug)  # never listed for Ada
    numbers, url = [], "/api/v1/orders?limit=2"
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["items"]) <= 2
        numbers += [item["number"] for item in body["items"]]
        url = f"/api/v1/orders?cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(numbers) == 6 == len(set(numbers))
    assert numbers[1:] == [o.number for o in reversed(made)]
    first = client.get("/api/v1/orders", headers=headers).get_json()["items"][0]
    assert (first["status"], first["status_label"], first["item_count"]) == ("paid", "Paid", 1)
    only_paid = client.get("/api/v1/orders?status=paid", headers=headers).get_json()
    assert [item["status"] for item in only_paid["items"]] == ["paid"]


@pytest.mark.parametrize(
    "query",
    [
        "cursor=garbage!",
        "cursor=" + cursor({"b": 2**40, "l": 2}),
        "cursor=" + cursor({"b": 5, "l": 1000}),
        "cursor=" + cursor({"b": -1, "l": 2}),
        "cursor=" + cursor({"b": "5", "l": 2}),
        "cursor=" + cursor(["b", 5]),
    ],
)
def test_forged_cursors_are_400_problems(client, db, ada, query):
    response = client.get(f"/api/v1/orders?{query}", headers=ada[1])
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid-cursor"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=%205", "limit=1_0", "status=x"])
def test_bad_list_parameters_are_422(client, db, ada, query):
    response = client.get(f"/api/v1/orders?{query}", headers=ada[1])
    assert response.status_code == 422 and response.get_json()["errors"]


def test_detail_has_lines_totals_addresses_and_history(client, db, ada, mug):
    user, headers = ada
    order = paid(user, mug, quantity=2)
    response = client.get(f"/api/v1/orders/{order.number}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["can_cancel"]) == ("paid", True)
    assert (body["subtotal"], body["shipping"], body["total"]) == (3000, 495, 3495)
    assert [(ln["sku"], ln["quantity"], ln["line_total"]) for ln in body["lines"]] == [
        (mug.sku, 2, 3000)
    ]
    assert body["shipping_address"]["city"] == "Dublin" and body["billing_address"]["line2"] == ""
    assert [(e["to_status"], e["label"]) for e in body["events"]] == [
        ("pending_payment", "Awaiting payment"),
        ("paid", "Paid"),
    ]
    assert body["paid_at"] is not None


def test_unknown_long_and_foreign_numbers_are_404(client, db, ada, mug):
    bob = make_user("bob@example.com", name="Bob")
    theirs = place(bob, mug)
    for number in ("SS-0000-0000", "X" * 21, "x" * 5000, theirs.number):
        for url in (f"/api/v1/orders/{number}", f"/api/v1/orders/{number}/status"):
            response = client.get(url, headers=ada[1])
            assert response.status_code == 404, url
            assert response.get_json()["code"] == "order-not-found"
    assert client.get(f"/api/v1/orders/{theirs.number}").status_code == 401


def test_cancel_a_paid_order_refunds_and_restocks(client, db, ada, mug):
    user, headers = ada
    order = paid(user, mug, quantity=3)
    db.session.expire_all()
    assert db.session.get(Variant, mug.id).stock_on_hand == 47
    response = client.post(f"/api/v1/orders/{order.number}/cancel", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["refund_total"] == order.total == 4500 + 495
    assert body["message"] == f"Order {order.number} is cancelled. We are refunding €49.95."
    assert body["order"]["status"] == "cancelled" and body["order"]["can_cancel"] is False
    assert body["order"]["events"][-1]["note"] == "cancelled by the customer"
    db.session.expire_all()
    assert db.session.get(Variant, mug.id).stock_on_hand == 50
    mail = db.session.execute(
        sa.select(Notification).where(Notification.template == "order-cancelled")
    ).scalar_one()
    assert mail.variables["refund_total"] == 4995

    again = client.post(f"/api/v1/orders/{order.number}/cancel", headers=headers)
    assert again.status_code == 409
    assert again.get_json()["code"] == "order-not-cancellable"
    assert again.get_json()["detail"] == (
        "This order can no longer be cancelled. Contact us about a return."
    )


def test_unpaid_orders_cannot_be_cancelled_here(client, db, ada, mug):
    user, headers = ada
    order = place(user, mug)
    response = client.post(f"/api/v1/orders/{order.number}/cancel", headers=headers)
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT

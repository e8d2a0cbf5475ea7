"""Cancelling an order that changed since the request read it (shipped by staff, or cancelled
by a racing request) is a 409 on the API and a message on the website, never a 500; with
real threads and commits on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AuditEvent, User
from app.catalog.models import Product, StockMovement, Variant
from app.checkout.completion import complete_session as fulfil_checkout_session
from app.db import unit_of_work
from app.extensions import db
from app.notifications.models import Notification
from app.orders import fulfilment
from app.orders.models import Order, OrderStatus
from app.payments.models import SandboxSession
from tests.accounts.helpers import make_user
from tests.api.helpers import bearer, tokens
from tests.catalog import factories
from tests.checkout.helpers import paid_sandbox_session, token
from tests.concurrency import run_at_once
from tests.orders.helpers import order_for

WORKERS = 3


def paid_order(email: str, user_id: int | None = None, name: str = "Race Mug") -> Order:
    variant = factories.product(name, price=1500, stock=10).variants[0]
    order = order_for([(variant, 2)], email=email)
    order.user_id = user_id
    fulfil_checkout_session(paid_sandbox_session(order, f"race{order.id}"))
    assert order.status == OrderStatus.PAID
    return order


def staff_ships_it_first(monkeypatch, status: str = OrderStatus.SHIPPED) -> None:
    """The order moves on between the request's read and its lock (as another request's
    committed change would)."""
    real = fulfilment.lock_order

    def lock_after_change(order_id: int):
        db.session.execute(
            sa.update(Order)
            .where(Order.id == order_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
        return real(order_id)

    monkeypatch.setattr(fulfilment, "lock_order", lock_after_change)


def test_api_cancel_of_an_order_shipped_meanwhile_is_409(client, db, monkeypatch):
    user = make_user()
    headers = bearer(tokens(client)["access_token"])
    order = paid_order(user.email, user.id)
    staff_ships_it_first(monkeypatch)
    response = client.post(f"/api/v1/orders/{order.number}/cancel", headers=headers)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["code"] == "order-not-cancellable"


def test_website_cancel_of_an_order_cancelled_meanwhile_says_so(client, db, monkeypatch):
    from app.orders.links import order_token

    order = paid_order("guest@example.com")
    page = f"/orders/{order_token(order)}"
    csrf = token(client, page)
    staff_ships_it_first(monkeypatch, OrderStatus.CANCELLED)
    response = client.post(f"{page}/cancel", data={"csrf_token": csrf}, follow_redirects=True)
    assert response.status_code == 200
    assert "can no longer be cancelled" in response.get_data(as_text=True)


def _cleanup(order_id: int, email: str) -> None:
    with unit_of_work():
        order = db.session.get(Order, order_id)
        variant_ids = [line.variant_id for line in order.lines]
        product_ids = sa.select(Variant.product_id).where(Variant.id.in_(variant_ids))
        db.session.execute(sa.delete(Notification).where(Notification.to_address == email))
        db.session.execute(
            sa.delete(SandboxSession).where(SandboxSession.client_reference_id == order.number)
        )
        db.session.execute(sa.delete(Order).where(Order.id == order_id))
        db.session.execute(
            sa.delete(StockMovement).where(StockMovement.variant_id.in_(variant_ids))
        )
        db.session.execute(sa.delete(Product).where(Product.id.in_(product_ids)))
        user_ids = sa.select(User.id).where(User.email == email)
        db.session.execute(
            sa.delete(AuditEvent).where(
                sa.or_(
                    AuditEvent.actor_id.in_(user_ids),
                    AuditEvent.target_user_id.in_(user_ids),
                    AuditEvent.target == order.number,
                )
            )
        )
        db.session.execute(sa.delete(User).where(User.email == email))


def _outcome(order_id: int) -> tuple[str, int]:
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    return order.status, sum(r.amount for r in order.refunds)


def test_concurrent_api_cancels_cancel_once_and_answer_409(app):
    email = "race-api-cancel@example.com"
    with app.app_context(), unit_of_work():
        user = make_user(email)
        order = paid_order(email, user.id, "Race API Mug")
        order_id, number, total = order.id, order.number, order.total
    try:
        headers = bearer(tokens(app.test_client(), email)["access_token"])

        def cancel(_: int) -> tuple[int, str | None]:
            response = app.test_client().post(f"/api/v1/orders/{number}/cancel", headers=headers)
            return response.status_code, response.get_json().get("code")

        results = run_at_once(app, WORKERS, cancel)
        assert sorted(results, key=str) == sorted(
            [(200, None)] + [(409, "order-not-cancellable")] * (WORKERS - 1), key=str
        ), results
        with app.app_context():
            status, refunded = _outcome(order_id)
            assert status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
            assert refunded == total
    finally:
        with app.app_context():
            _cleanup(order_id, email)


def test_concurrent_website_cancels_cancel_once(app):
    from app.orders.links import order_token

    email = "race-web-cancel@example.com"
    with app.app_context(), unit_of_work():
        order = paid_order(email, None, "Race Web Mug")
        order_id, total = order.id, order.total
        page = f"/orders/{order_token(order)}"
    try:
        clients = [app.test_client() for _ in range(WORKERS)]
        csrf = [token(c, page) for c in clients]

        def cancel(index: int) -> tuple[int, bool]:
            response = clients[index].post(
                f"{page}/cancel", data={"csrf_token": csrf[index]}, follow_redirects=True
            )
            html = response.get_data(as_text=True)
            return response.status_code, "is cancelled. We are refunding" in html

        results = run_at_once(app, WORKERS, cancel)
        assert sorted(results) == [(200, False)] * (WORKERS - 1) + [(200, True)], results
        with app.app_context():
            status, refunded = _outcome(order_id)
            assert status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
            assert refunded == total
    finally:
        with app.app_context():
            _cleanup(order_id, email)

"""Shoppers at the same moment, with real threads and real commits (SQLite and PostgreSQL):
success pages racing the webhook task, a Pay button pressed twice while Stripe is slow, a
cart changed while the first press still waits, an app retrying while its first call waits.
"""

from __future__ import annotations

import threading
import time
import uuid

import sqlalchemy as sa

from app.catalog.models import Variant
from app.db import unit_of_work
from app.extensions import db
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus
from app.payments import sandbox
from app.payments.models import SandboxSession, WebhookEvent
from tests.api.helpers import TERMS, add_item, guest, set_details
from tests.catalog import factories
from tests.checkout.conftest import point_at
from tests.checkout.helpers import DETAILS, path_of, token
from tests.concurrency import run_at_once
from tests.fakes.stripe_server import FakeStripe

PAYERS = 10


def _product(app, stock: int) -> int:
    with app.app_context(), unit_of_work():
        return (
            factories.product(f"Race Mug {uuid.uuid4().hex[:6]}", price=1500, stock=stock)
            .variants[0]
            .id
        )


def _shopper(app, variant_id: int, email: str):
    client = app.test_client()
    client.post(
        "/cart/add",
        data={"variant_id": variant_id, "quantity": 1, "csrf_token": token(client, "/cart")},
    )
    client.post(
        "/checkout", data={**DETAILS, "email": email, "csrf_token": token(client, "/checkout")}
    )
    return client


def _press_pay(client):
    return client.post(
        "/checkout/pay", data={"csrf_token": token(client, "/checkout/review"), "accept_terms": "y"}
    )


def test_ten_payers_at_once_every_success_page_answers_200(own_app):
    """Each shopper lands on the success page while the webhook task completes the same
    session: whichever writes first, the other finds the order paid. Never a 500."""
    app = own_app
    variant_id = _product(app, stock=PAYERS)
    shoppers = [_shopper(app, variant_id, f"payer{i}@example.com") for i in range(PAYERS)]
    sessions = []
    for client in shoppers:
        url = _press_pay(client).headers["Location"]
        sessions.append(url.rsplit("/", 1)[1])
    with app.app_context(), unit_of_work():
        for session_id in sessions:  # paid at the provider; the events are on their way
            sandbox.act(session_id, "pay")

    def act(index: int) -> int:
        payer = index // 2
        if index % 2:  # the webhook, as Stripe delivers it, processed by the task
            with unit_of_work():
                sandbox.deliver(
                    db.session.get(SandboxSession, sessions[payer]), "checkout.session.completed"
                )
            return 200
        page = shoppers[payer].get(f"/checkout/success?session_id={sessions[payer]}")
        return page.status_code

    results = run_at_once(app, 2 * PAYERS, act)
    assert results == [200] * (2 * PAYERS), results
    with app.app_context():
        stock = db.session.execute(
            sa.select(Variant.stock_on_hand, Variant.reserved).where(Variant.id == variant_id)
        ).one()
        statuses = (
            db.session.execute(
                sa.select(Order.status).where(Order.email.like("payer%@example.com"))
            )
            .scalars()
            .all()
        )
        mails = db.session.execute(
            sa.select(sa.func.count()).where(
                Notification.template == "order-confirmation",
                Notification.to_address.like("payer%@example.com"),
            )
        ).scalar_one()
        events = (
            db.session.execute(
                sa.select(WebhookEvent.status).where(
                    WebhookEvent.payload["data"]["object"]["id"].as_string().in_(sessions)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(statuses) == [OrderStatus.PAID] * PAYERS
    assert events == ["processed"] * PAYERS  # the task's half never failed either
    assert tuple(stock) == (0, 0)  # all ten sold, none twice
    assert mails == PAYERS
    for client, session_id in zip(shoppers, sessions, strict=True):
        page = client.get(f"/checkout/success?session_id={session_id}").get_data(as_text=True)
        assert "Thank you for your order!" in page


def _two_presses(first_client, second, *, gap: float):
    """Press Pay in one thread; ``gap`` seconds later run ``second`` in this one."""
    outcome: dict[str, object] = {}

    def press() -> None:
        with first_client.application.app_context():
            outcome["first"] = _press_pay(first_client)

    thread = threading.Thread(target=press)
    thread.start()
    time.sleep(gap)
    outcome["second"] = second()
    thread.join(timeout=30)
    return outcome["first"], outcome["second"]


def _same_browser(client):
    twin = client.application.test_client()
    cookie = client.get_cookie("session")
    twin.set_cookie("session", cookie.value)
    return twin


def test_pay_pressed_twice_while_stripe_is_slow_gives_one_payable_session(own_app, monkeypatch):
    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        variant_id = _product(app, stock=5)
        client = _shopper(app, variant_id, "twice@example.com")
        fake.delay_next(1.0)  # Stripe takes a second to answer the first press
        first, second = _two_presses(client, lambda: _press_pay(_same_browser(client)), gap=0.3)
        assert first.status_code == second.status_code == 303
        assert first.headers["Location"] == second.headers["Location"]
        assert first.headers["Location"].startswith(fake.url + "/pay/")
        assert len(fake.sessions) == 1 and len(fake.open_sessions()) == 1
        keys = {r.idempotency_key for r in fake.requests_to("POST", "/v1/checkout/sessions")}
        assert len(keys) == 1
        with app.app_context():
            orders = (
                db.session.execute(sa.select(Order).where(Order.email == "twice@example.com"))
                .scalars()
                .all()
            )
            assert [o.status for o in orders] == [OrderStatus.PENDING_PAYMENT]
            assert db.session.get(Variant, variant_id).reserved == 1


def test_a_cart_changed_while_the_first_press_waits_leaves_no_payable_session_behind(
    own_app, monkeypatch
):
    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        variant_id = _product(app, stock=5)
        client = _shopper(app, variant_id, "changed@example.com")

        def change_and_pay_again():
            twin = _same_browser(client)
            twin.post(
                "/cart/add",
                data={"variant_id": variant_id, "quantity": 1, "csrf_token": token(twin, "/cart")},
            )
            return _press_pay(twin)

        fake.delay_next(1.5)
        first, second = _two_presses(client, change_and_pay_again, gap=0.3)
        # The first press learns its order was replaced meanwhile: back to the review page.
        assert first.headers["Location"] == "/checkout/review"
        assert second.headers["Location"].startswith(fake.url + "/pay/")
        with app.app_context():
            old, new = (
                db.session.execute(
                    sa.select(Order).where(Order.email == "changed@example.com").order_by(Order.id)
                )
                .scalars()
                .all()
            )
            assert (old.status, new.status) == (OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT)
            assert old.cancel_reason == "replaced"
            assert db.session.get(Variant, variant_id).reserved == 2
        [still_open] = fake.open_sessions()
        assert still_open["client_reference_id"] == new.number
        assert len(fake.sessions) == 2  # the replaced order's session exists, expired


def test_an_app_retrying_while_its_first_call_waits_gets_the_same_order_and_session(
    own_app, monkeypatch
):
    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        variant_id = _product(app, stock=5)
        client = app.test_client()
        cart = add_item(client, variant_id, 1).get_json()["cart_token"]
        assert set_details(client, guest(cart), email="retry@example.com").status_code == 200
        fake.delay_next(1.0)

        def call(_: int):
            response = app.test_client().post(
                "/api/v1/checkout/session", json=TERMS, headers=guest(cart)
            )
            return response.status_code, response.get_json()

        results = run_at_once(app, 3, call)
        assert sorted(status for status, _ in results) == [200, 200, 201], results
        assert len({body["order_number"] for _, body in results}) == 1
        assert len({body["checkout_url"] for _, body in results}) == 1
        assert len(fake.sessions) == 1


def test_paying_then_coming_back_shows_the_order(own_app):
    """The browser's Back button after paying: the review page no longer offers to pay
    again for what was bought, and the success page still shows the order."""
    app = own_app
    variant_id = _product(app, stock=5)
    client = _shopper(app, variant_id, "back@example.com")
    url = _press_pay(client).headers["Location"]
    page = path_of(url)
    back = client.post(f"{page}/pay", data={"csrf_token": token(client, page)})
    success = back.headers["Location"]
    assert "Thank you for your order!" in client.get(path_of(success)).get_data(as_text=True)
    assert client.get("/checkout/review").headers["Location"].endswith("/cart")
    assert "Thank you for your order!" in client.get(path_of(success)).get_data(as_text=True)


def test_two_shoppers_buying_other_sizes_of_the_same_products_in_either_order(own_app):
    """Shirt S + hat S against hat L + shirt L, pressed at once: the stock rows are locked in
    one order (variants, then products, by id), so neither waits on the other in a circle."""
    from app.catalog.services import VariantInput

    app = own_app
    with app.app_context(), unit_of_work():
        sizes = []
        for name in ("Shirt", "Hat"):
            tag = uuid.uuid4().hex[:6]
            product = factories.product(
                f"{name} {tag}",
                variants=[
                    VariantInput(sku=f"{tag}-S", price=1000, options={"size": "S"}, stock=5),
                    VariantInput(sku=f"{tag}-L", price=1000, options={"size": "L"}, stock=5),
                ],
            )
            sizes.append([v.id for v in product.variants])
    (shirt_s, shirt_l), (hat_s, hat_l) = sizes
    shoppers = []
    for i, lines in enumerate([(hat_s, shirt_s), (shirt_l, hat_l)]):
        client = app.test_client()
        for variant_id in lines:
            client.post(
                "/cart/add",
                data={
                    "variant_id": variant_id,
                    "quantity": 1,
                    "csrf_token": token(client, "/cart"),
                },
            )
        client.post(
            "/checkout",
            data={
                **DETAILS,
                "email": f"sizes{i}@example.com",
                "csrf_token": token(client, "/checkout"),
            },
        )
        shoppers.append((client, token(client, "/checkout/review")))

    def press(index: int) -> int:
        client, csrf = shoppers[index]
        return client.post(
            "/checkout/pay", data={"csrf_token": csrf, "accept_terms": "y"}
        ).status_code

    for _ in range(3):
        assert run_at_once(app, 2, press) == [303, 303]


def test_a_staff_cancel_closes_the_sandbox_session_too(own_app):
    from app.orders.fulfilment import cancel_order

    app = own_app
    variant_id = _product(app, stock=3)
    client = _shopper(app, variant_id, "closed@example.com")
    session_id = _press_pay(client).headers["Location"].rsplit("/", 1)[1]
    with app.app_context(), unit_of_work():
        order = db.session.execute(
            sa.select(Order).where(Order.email == "closed@example.com")
        ).scalar_one()
        cancel_order(order, actor_id=None, reason="out of the blue")
    with app.app_context():
        assert db.session.get(SandboxSession, session_id).status == "expired"


def test_a_session_made_while_a_newer_attempt_was_written_is_not_left_payable(own_app, monkeypatch):
    """The order's newest attempt is the one its shopper may pay through. A press whose
    session comes back after a newer attempt of the same order was written (another press
    of that shopper, say) must not record its session as payable: it is closed at once and
    the shopper sent back to the review page."""
    import app.checkout.services as services
    from app.checkout.sessions import new_attempt

    app = own_app
    real_send, written = services.send, []

    def send_then_newer(plan):
        session = real_send(plan)

        def newer() -> None:  # its own transaction, committed before the press records
            with app.app_context(), unit_of_work():
                order = db.session.get(Order, plan.order_id)
                written.append(new_attempt(order, success_url=fake.url, cancel_url=fake.url))

        thread = threading.Thread(target=newer)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()
        return session

    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        client = _shopper(app, _product(app, stock=5), "newer@example.com")
        monkeypatch.setattr(services, "send", send_then_newer)
        response = _press_pay(client)
        assert written, "the newer attempt was not written while the press waited"
        assert response.headers["Location"] == "/checkout/review"
        assert len(fake.sessions) == 1 and fake.open_sessions() == []
    with app.app_context():
        order = db.session.execute(
            sa.select(Order).where(Order.email == "newer@example.com")
        ).scalar_one()
        assert [(p.attempt, p.status) for p in order.payments] == [(1, "expired")]


def test_another_orders_later_attempts_do_not_make_a_press_stale(own_app):
    """ "Newest" is asked of the press's own order: another shopper's order with more
    attempts (numbers above this one's) changes nothing."""
    from app.checkout.sessions import new_attempt

    app = own_app
    variant_id = _product(app, stock=5)
    other = _shopper(app, variant_id, "other@example.com")
    assert "/sandbox/checkout/" in _press_pay(other).headers["Location"]
    with app.app_context(), unit_of_work():
        order = db.session.execute(
            sa.select(Order).where(Order.email == "other@example.com")
        ).scalar_one()
        for _ in range(2):
            new_attempt(order, success_url="http://localhost/s", cancel_url="http://localhost/c")
    response = _press_pay(_shopper(app, variant_id, "mine@example.com"))
    assert "/sandbox/checkout/" in response.headers["Location"]

"""One lock order for every path that touches stock, orders and sessions (cart → orders →
variants → products; order → attempt → payment), shown by forcing the interleavings that
deadlocked on PostgreSQL before: each pauses one side right after its first lock, lets the
other side run into it, and expects both to finish. (On SQLite writers are serial; the same
tests check that nothing breaks.)"""

from __future__ import annotations

import threading
import time
import uuid

import flask
import sqlalchemy as sa

import app.cart.merge as cart_merge
import app.cart.services as cart_services
import app.orders.fulfilment as fulfilment
from app.cart.models import Cart, CartLine
from app.catalog.services import VariantInput
from app.checkout.completion import complete_session
from app.checkout.models import CheckoutAttempt
from app.checkout.tasks import settle_attempt
from app.db import unit_of_work
from app.extensions import db
from app.orders.models import CancelReason, Order, OrderStatus
from app.payments import sandbox
from app.payments.models import Payment
from tests.accounts.helpers import make_user
from tests.catalog import factories
from tests.checkout.conftest import point_at
from tests.checkout.helpers import DETAILS, token
from tests.fakes.stripe_server import FakeStripe

HOLD = 1.0  # how long the paused side keeps its lock while the other runs into it


def _shirt(app) -> tuple[int, int]:
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        product = factories.product(
            f"Shirt {tag}",
            variants=[
                VariantInput(sku=f"{tag}-S", price=1000, options={"size": "S"}, stock=5),
                VariantInput(sku=f"{tag}-L", price=1000, options={"size": "L"}, stock=5),
            ],
        )
        small, large = sorted(v.id for v in product.variants)
    return small, large


def _ready(app, variant_ids, email: str):
    client = app.test_client()
    for variant_id in variant_ids:
        client.post(
            "/cart/add",
            data={"variant_id": variant_id, "quantity": 1, "csrf_token": token(client, "/cart")},
        )
    client.post(
        "/checkout", data={**DETAILS, "email": email, "csrf_token": token(client, "/checkout")}
    )
    return client, token(client, "/checkout/review")


def _until_another_waits_for_a_lock(app, timeout: float = 10) -> bool:
    """True once another connection to the app's database waits for a row lock (PostgreSQL),
    so the side holding it lets go only after the other ran into it; SQLite: HOLD seconds."""
    from tests.databases import is_postgres

    if not is_postgres():
        time.sleep(HOLD)
        return False
    with app.app_context():
        engine = db.engine
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar()
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    return False


def _both(first, second) -> None:
    threads = [threading.Thread(target=first, name="first"), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def _press_pay(client) -> str:
    """Pay pressed on the review page as the shopper sees it: the session's id."""
    reviewed = token(client, "/checkout/review")
    answer = client.post("/checkout/pay", data={"csrf_token": reviewed, "accept_terms": "y"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    return answer.headers["Location"].rsplit("/", 1)[1]


def _expired_checkout(app, fake, client, *, promotions: str) -> str:
    """Pay pressed, then the session let expire (Stripe's promotions consent as given) and
    the expiry recorded: the session's id."""
    from app.checkout.completion import record_session_expired

    session_id = _press_pay(client)
    fake.expire(session_id, promotions=promotions)
    with app.app_context(), unit_of_work():
        record_session_expired(session_id)
    return session_id


def _recovery_link_paid(app, fake, session_id, outcome, *, once, go, said):
    """A thread's work: once ``once`` is set (``outcome[said]``), the expired session's
    recovery link is paid (``go`` set) and its payment completed (``outcome["first"]``)."""

    def run() -> None:
        outcome[said] = once.wait(10)
        recovered = fake.recover(session_id)
        fake.complete(recovered["id"])
        go.set()
        with app.app_context(), unit_of_work():
            order = complete_session(recovered["id"])
            outcome["first"] = order.status if order is not None else None

    return run


def _press_held_once_locked(app, monkeypatch, outcome, other: str):
    """Make the next press (a POST in the thread named "first") pause once it holds its cart
    and the cart's unpaid orders: it sets ``locked``, waits for ``go`` (``outcome[other +
    " started"]``), then until another connection waits for a lock (``outcome[other + "
    waited"]``). Returns (locked, go)."""
    import app.checkout.services as checkout_services

    locked, go = threading.Event(), threading.Event()
    real_unpaid = checkout_services._unpaid_orders

    def unpaid_then_hold(cart):
        orders = real_unpaid(cart)
        if threading.current_thread().name == "first" and flask.request.method == "POST":
            locked.set()
            outcome[f"{other} started"] = go.wait(10)
            outcome[f"{other} waited"] = _until_another_waits_for_a_lock(app)
        return orders

    monkeypatch.setattr(checkout_services, "_unpaid_orders", unpaid_then_hold)
    return locked, go


def test_pay_and_a_sign_in_merging_the_same_variants_in_the_other_order(own_app, monkeypatch):
    """A sign-in merge inserts cart lines L then S (each insert share-locks its variant);
    Pay locks S then L. Pay's locks must not block those inserts' share locks."""
    app = own_app
    small, large = _shirt(app)
    with app.app_context(), unit_of_work():
        user_id = make_user(f"merge-{uuid.uuid4().hex[:6]}@example.com").id
        guest = cart_services.get_or_create_cart(
            user_id=None, token=cart_services.new_guest_token()
        )
        cart_services.add_item(guest, large, 1)
        cart_services.add_item(guest, small, 1)
        guest_id = guest.id
    client, csrf = _ready(app, (small, large), "payer@example.com")
    merged_one, pay_go = threading.Event(), threading.Event()
    real_add = cart_services.add_item

    def add_then_hold(cart, variant_id, quantity):
        change = real_add(cart, variant_id, quantity)
        if threading.current_thread().name == "first" and not merged_one.is_set():
            merged_one.set()
            pay_go.wait(5)
            time.sleep(HOLD)
        return change

    monkeypatch.setattr(cart_merge, "add_item", add_then_hold)  # as the merge adds lines
    outcome: dict[str, object] = {}

    def merge() -> None:
        with app.app_context(), unit_of_work():
            cart_merge.merge_guest_cart(db.session.get(Cart, guest_id), user_id)
        outcome["merge"] = "ok"

    def press() -> None:
        merged_one.wait(5)
        pay_go.set()
        outcome["pay"] = client.post(
            "/checkout/pay", data={"csrf_token": csrf, "accept_terms": "y"}
        ).status_code

    _both(merge, press)
    assert outcome == {"merge": "ok", "pay": 303}


def test_pay_and_a_staff_cancel_restocking_the_same_product(own_app, monkeypatch):
    """Staff cancel a paid order of shirts S and L (restock S, its product, then L) while a
    shopper pays for a shirt L: both lock all their stock rows up front, in one order."""
    app = own_app
    small, large = _shirt(app)
    first, csrf = _ready(app, (small, large), "paid@example.com")
    url = first.post("/checkout/pay", data={"csrf_token": csrf, "accept_terms": "y"}).headers[
        "Location"
    ]
    session_id = url.rsplit("/", 1)[1]
    with app.app_context(), unit_of_work():
        sandbox.act(session_id, "pay")
    with app.app_context(), unit_of_work():
        order = complete_session(session_id)
        assert order is not None and order.status == OrderStatus.PAID
        order_id = order.id
    buyer, buyer_csrf = _ready(app, (large,), "buyer@example.com")
    restocked_one, pay_go = threading.Event(), threading.Event()
    real_restock = fulfilment.restock_line

    def restock_then_hold(order, line, quantity, **kwargs):
        done = real_restock(order, line, quantity, **kwargs)
        if threading.current_thread().name == "first" and not restocked_one.is_set():
            restocked_one.set()
            pay_go.wait(5)
            time.sleep(HOLD)
        return done

    monkeypatch.setattr(fulfilment, "restock_line", restock_then_hold)
    outcome: dict[str, object] = {}

    def staff() -> None:
        with app.app_context(), unit_of_work():
            fulfilment.cancel_order(db.session.get(Order, order_id), actor_id=None, reason="x")
        outcome["staff"] = "ok"

    def press() -> None:
        restocked_one.wait(5)
        pay_go.set()
        outcome["pay"] = buyer.post(
            "/checkout/pay", data={"csrf_token": buyer_csrf, "accept_terms": "y"}
        ).status_code

    _both(staff, press)
    assert outcome == {"staff": "ok", "pay": 303}


def test_the_press_and_the_settling_task_learning_one_session_at_once(own_app, monkeypatch):
    """The press records its session (order, then attempt, then payment) while the task that
    settles the same attempt records it too: one payment row, neither fails."""
    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        small, _ = _shirt(app)
        client, csrf = _ready(app, (small,), "learners@example.com")
        inserted, settle_go = threading.Event(), threading.Event()
        with app.app_context():
            engine = db.engine

        def hold_after_insert(conn, cursor, statement, params, context, executemany):
            if threading.current_thread().name == "first" and statement.startswith(
                "INSERT INTO payments"
            ):
                inserted.set()
                settle_go.wait(5)
                time.sleep(HOLD)

        sa.event.listen(engine, "after_cursor_execute", hold_after_insert)
        outcome: dict[str, object] = {}

        def press() -> None:
            outcome["press"] = client.post(
                "/checkout/pay", data={"csrf_token": csrf, "accept_terms": "y"}
            ).status_code

        def settle() -> None:
            inserted.wait(10)
            with app.app_context():
                with unit_of_work():
                    attempt_id = db.session.execute(
                        sa.select(sa.func.max(CheckoutAttempt.id))
                    ).scalar_one()
                settle_go.set()
                outcome["settle"] = settle_attempt(attempt_id)

        try:
            _both(press, settle)
        finally:
            sa.event.remove(engine, "after_cursor_execute", hold_after_insert)
        # PostgreSQL: both record it; SQLite: the task waits its turn and finds it recorded.
        assert outcome["press"] == 303 and outcome["settle"] in ("recorded", "done")
        [session_id] = fake.sessions
        with app.app_context():
            rows = db.session.execute(
                sa.select(sa.func.count()).where(Payment.session_id == session_id)
            ).scalar_one()
        assert rows == 1


def test_a_press_while_its_older_order_is_paid_charges_only_what_is_left(own_app, monkeypatch):
    """The shopper's first order (2 small shirts, 1 large) is paid in one tab at the moment
    they press Pay for the cart, now 3 small and 1 large, in another. The payment takes what it
    bought out of the cart without the cart's lock (one line less, one line smaller), after
    the press read the lines: the press must charge the 1 small shirt left, not what its first
    read saw (the shopper would pay for three shirts twice).

    PostgreSQL only lets that happen; on SQLite the press holds the database's write lock
    from its first read, so the payment comes after it: the press replaced the first order
    (the cart changed), whose payment page can then no longer be paid."""
    import app.checkout.services as checkout_services
    from tests.accounts.helpers import login
    from tests.databases import is_postgres

    app = own_app
    small, large = _shirt(app)
    email = f"twotabs-{uuid.uuid4().hex[:6]}@example.com"
    with app.app_context(), unit_of_work():
        user_id = make_user(email).id
    client = app.test_client()
    login(client, email)
    for variant_id, quantity in ((small, 2), (large, 1)):
        client.post(
            "/cart/add",
            data={
                "variant_id": variant_id,
                "quantity": quantity,
                "csrf_token": token(client, "/cart"),
            },
        )
    client.post(
        "/checkout", data={**DETAILS, "email": email, "csrf_token": token(client, "/checkout")}
    )
    first_csrf = token(client, "/checkout/review")
    first = client.post("/checkout/pay", data={"csrf_token": first_csrf, "accept_terms": "y"})
    session_id = first.headers["Location"].rsplit("/", 1)[1]
    client.post(  # the other tab: one more small shirt
        "/cart/add",
        data={"variant_id": small, "quantity": 1, "csrf_token": token(client, "/cart")},
    )
    csrf = token(client, "/checkout/review")
    read, paid = threading.Event(), threading.Event()
    real_unpaid = checkout_services._unpaid_orders
    outcome: dict[str, object] = {}

    def unpaid_after_the_payment(cart):
        if threading.current_thread().name == "first":
            read.set()
            outcome["payment came first"] = paid.wait(30)
        return real_unpaid(cart)

    def press() -> None:
        answer = client.post("/checkout/pay", data={"csrf_token": csrf, "accept_terms": "y"})
        outcome["press"] = (answer.status_code, answer.headers.get("Location", ""))

    def pay_first_order() -> None:
        outcome["press read first"] = read.wait(30)
        try:
            with app.app_context(), unit_of_work():
                try:
                    sandbox.act(session_id, "pay")
                except LookupError:  # its payment page went with the replaced order
                    outcome["first"] = "page gone"
                    return
            with app.app_context(), unit_of_work():
                order = complete_session(session_id)
                outcome["first"] = order.status if order is not None else None
        finally:
            paid.set()

    if is_postgres():
        monkeypatch.setattr(checkout_services, "_unpaid_orders", unpaid_after_the_payment)
        threads = [
            threading.Thread(target=press, name="first"),
            threading.Thread(target=pay_first_order),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
        assert outcome["press read first"] is True and outcome["payment came first"] is True
    else:
        read.set()
        press()
        pay_first_order()
    status, location = outcome["press"]  # type: ignore[misc]
    assert status == 303 and "/sandbox/checkout/" in location, outcome
    with app.app_context():
        orders = db.session.execute(
            sa.select(Order).where(Order.user_id == user_id).order_by(Order.id)
        ).scalars()
        placed = [
            (o.status, o.cancel_reason, sorted((ln.variant_id, ln.quantity) for ln in o.lines))
            for o in orders
        ]
        cart_lines = db.session.execute(
            sa.select(CartLine.variant_id, CartLine.quantity)
            .join(Cart)
            .where(Cart.user_id == user_id)
            .order_by(CartLine.variant_id)
        ).all()
    first_lines = sorted([(small, 2), (large, 1)])
    if is_postgres():
        assert outcome["first"] == OrderStatus.PAID
        assert placed == [
            (OrderStatus.PAID, "", first_lines),
            (OrderStatus.PENDING_PAYMENT, "", [(small, 1)]),
        ]
        assert [tuple(row) for row in cart_lines] == [(small, 1)]
    else:
        assert outcome["first"] == "page gone"
        assert placed == [
            (OrderStatus.CANCELLED, CancelReason.REPLACED, first_lines),
            (OrderStatus.PENDING_PAYMENT, "", sorted([(small, 3), (large, 1)])),
        ]
        assert [tuple(row) for row in cart_lines] == sorted([(small, 3), (large, 1)])


def test_a_recovery_payment_while_a_press_replaces_the_newer_checkout(own_app, monkeypatch):
    """A guest's first checkout expired; they pressed Pay again (a second order), then added a
    shirt and press Pay once more (the press locks the cart and the second order, and will
    replace it with a third) at the moment the first checkout's recovery link is paid. The
    payment must wait for the press rather than deadlock with it over the stock rows, and then
    close the checkout the press just made, which it could not see when it first looked: the
    guest must not be able to pay for the first shirt twice."""
    from tests.databases import is_postgres

    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        small, large = _shirt(app)
        email = f"recovers-{uuid.uuid4().hex[:6]}@example.com"
        client, _ = _ready(app, (small,), email)

        first_session = _expired_checkout(app, fake, client, promotions="opt_in")
        second_session = _press_pay(client)
        client.post(
            "/cart/add",
            data={"variant_id": large, "quantity": 1, "csrf_token": token(client, "/cart")},
        )
        outcome: dict[str, object] = {}
        locked, go = _press_held_once_locked(app, monkeypatch, outcome, "payment")

        def press() -> None:
            outcome["third"] = _press_pay(client)  # a session, or "review" (sent back to the cart)

        recovery_paid = _recovery_link_paid(
            app, fake, first_session, outcome, once=locked, go=go, said="press locked first"
        )
        _both(press, recovery_paid)
        assert outcome["press locked first"] and outcome["payment started"]
        assert outcome["payment waited"] == is_postgres()
        assert outcome["first"] == OrderStatus.PAID
        with app.app_context():
            orders = list(
                db.session.execute(
                    sa.select(Order).where(Order.email == email).order_by(Order.id)
                ).scalars()
            )
            later = [(o.status, o.cancel_reason) for o in orders[1:]]
            payable = [s for o in orders for s in fake.open_sessions(o.number)]
            lines = {
                line.variant_id: line.quantity
                for line in db.session.execute(
                    sa.select(CartLine).where(CartLine.variant_id.in_((small, large)))
                ).scalars()
            }
        # The press made a third order and its session before the payment cancelled it: it
        # either handed that session out (closed since) or noticed and sent the guest back
        # to review the cart. Either way nothing is left to pay but what is in the cart.
        assert outcome["third"] != second_session
        assert len(orders) == (3 if is_postgres() else len(orders))
        assert later == [(OrderStatus.CANCELLED, CancelReason.REPLACED)] * (len(orders) - 1)
        assert payable == []
        assert lines == {large: 1}  # the first shirt was paid for; the second is left to pay


def test_a_guests_expired_checkout_is_cancelled_while_a_press_holds_the_cart(own_app, monkeypatch):
    """A guest's checkout expires (they agreed at Stripe to hear from the shop) while a press
    or a recovery payment holds their cart's row. The expiry holds the order, so it must not
    wait for the cart there (those take the cart before its orders): the order is cancelled
    at once and the recovery e-mail, which claims the cart, goes once the cart is free."""
    from app.checkout.completion import record_session_expired
    from app.notifications.models import Notification
    from tests.databases import is_postgres

    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        small, _ = _shirt(app)
        email = f"walks-away-{uuid.uuid4().hex[:6]}@example.com"
        client, reviewed = _ready(app, (small,), email)
        answer = client.post("/checkout/pay", data={"csrf_token": reviewed, "accept_terms": "y"})
        session_id = answer.headers["Location"].rsplit("/", 1)[1]
        fake.expire(session_id, promotions="opt_in")
        with app.app_context():
            order_id, cart_id = db.session.execute(
                sa.select(Order.id, Order.cart_id).where(Order.email == email)
            ).one()
            engine = db.engine

        def status_and_mails() -> tuple[str, int]:
            with app.app_context():
                db.session.remove()
                status = db.session.get(Order, order_id).status
                mails = db.session.execute(
                    sa.select(sa.func.count())
                    .select_from(Notification)
                    .where(
                        Notification.template == "cart-recovery", Notification.to_address == email
                    )
                ).scalar_one()
                db.session.remove()
            return status, mails

        def expire() -> None:
            with app.app_context(), unit_of_work():
                record_session_expired(session_id)

        expiry = threading.Thread(target=expire)
        if is_postgres():
            holder = engine.connect()
            try:  # the cart held, as a press or a recovery payment of this cart would
                holder.execute(sa.select(Cart.id).where(Cart.id == cart_id).with_for_update())
                expiry.start()
                deadline = time.monotonic() + 10
                while (
                    status_and_mails()[0] != OrderStatus.CANCELLED and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
                held = status_and_mails()
            finally:
                holder.rollback()
                holder.close()
            # Cancelled (its stock back on sale) while the cart was still held; the e-mail,
            # which claims the cart, waited for it.
            assert held == (OrderStatus.CANCELLED, 0)
        else:  # one writer at a time: nothing to hold, the expiry runs through
            expiry.start()
        expiry.join(30)
        assert not expiry.is_alive()
        assert status_and_mails() == (OrderStatus.CANCELLED, 1)


def test_a_recovery_payment_while_the_guest_signs_in(own_app, monkeypatch):
    """The guest's checkout expired and they pressed Pay again (a second order); now they
    sign in (the merge holds the guest cart, then carries that second order into the
    account and deletes the cart) at the moment the first checkout's recovery link is paid.
    The payment waits for the merge, finds the account, and closes the carried checkout:
    the shirt cannot be paid for twice."""
    from tests.accounts.helpers import login
    from tests.databases import is_postgres

    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        small, _ = _shirt(app)
        email = f"signs-in-{uuid.uuid4().hex[:6]}@example.com"
        with app.app_context(), unit_of_work():
            make_user(email)
        client, reviewed = _ready(app, (small,), email)

        first_session = _expired_checkout(app, fake, client, promotions="opt_out")
        second_session = _press_pay(client)
        locked, go = threading.Event(), threading.Event()
        real_get_or_create = cart_services.get_or_create_cart
        outcome: dict[str, object] = {}

        def hold_then_get_or_create(*, user_id, token):
            if threading.current_thread().name == "first" and user_id is not None:
                locked.set()  # the merge holds the guest cart now
                outcome["payment started"] = go.wait(10)
                outcome["payment waited"] = _until_another_waits_for_a_lock(app)
            return real_get_or_create(user_id=user_id, token=token)

        monkeypatch.setattr(cart_merge, "get_or_create_cart", hold_then_get_or_create)

        def sign_in() -> None:
            outcome["signed in"] = login(client, email).status_code

        recovery_paid = _recovery_link_paid(
            app, fake, first_session, outcome, once=locked, go=go, said="merge locked first"
        )
        _both(sign_in, recovery_paid)
        assert outcome["merge locked first"] and outcome["payment started"]
        assert outcome["payment waited"] == is_postgres()
        assert outcome["signed in"] == 302
        assert outcome["first"] == OrderStatus.PAID
        with app.app_context():
            orders = list(
                db.session.execute(
                    sa.select(Order).where(Order.email == email).order_by(Order.id)
                ).scalars()
            )
            second = (orders[1].status, orders[1].cancel_reason, orders[1].user_id is not None)
        assert second == (OrderStatus.CANCELLED, CancelReason.REPLACED, True)
        assert fake.open_sessions(orders[1].number) == []
        assert fake.sessions[second_session]["status"] == "expired"


def test_the_recovery_mail_while_the_guest_presses_pay_again(own_app, monkeypatch):
    """The guest's checkout expired and its recovery e-mail is about to go (its task) just as
    the guest presses Pay again (the press holds the cart). The e-mail waits for the press
    and then stays unsent: the guest is paying."""
    from app.cart.tasks import recover_guest
    from app.notifications.models import Notification
    from tests.databases import is_postgres

    app = own_app
    with FakeStripe() as fake:
        point_at(app, fake, monkeypatch)
        small, _ = _shirt(app)
        email = f"pays-again-{uuid.uuid4().hex[:6]}@example.com"
        client, _ = _ready(app, (small,), email)
        _expired_checkout(app, fake, client, promotions="opt_out")  # the mail: by hand, below
        with app.app_context():
            first_id = db.session.execute(sa.select(Order.id).where(Order.email == email)).scalar()
        outcome: dict[str, object] = {}
        locked, go = _press_held_once_locked(app, monkeypatch, outcome, "mail")

        def press() -> None:
            outcome["second"] = _press_pay(client)

        def mail() -> None:
            outcome["press locked first"] = locked.wait(10)
            go.set()
            with app.app_context():
                outcome["sent"] = recover_guest.call_local(first_id, f"{fake.url}/recover/x")

        _both(press, mail)
        assert outcome["press locked first"] and outcome["mail started"]
        assert outcome["mail waited"] == is_postgres()
        assert outcome["sent"] is False
        with app.app_context():
            mails = db.session.execute(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.template == "cart-recovery", Notification.to_address == email)
            ).scalar_one()
        assert mails == 0

"""Pay writes the rows every other buyer of the same item waits on (the variant's stock, its
product's summary) last, straight before its commit, and a product's summary is always
computed after its row is locked (SQLite and PostgreSQL; the interleaving matters on
PostgreSQL, where writers run side by side)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from app.catalog.models import Product, Variant
from app.catalog.services import VariantInput
from app.db import unit_of_work
from app.extensions import db
from app.inventory.services import adjust_stock, set_stock_count
from app.orders.models import Order, OrderStatus
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, pay, submit_details, token

HOLD = 1.0  # how long the staff side keeps its locks while Pay runs into them


def _ready(app, variant_id: int, email: str):
    client = app.test_client()
    add_to_cart(client, variant_id)
    submit_details(client, email=email)
    return client


class _Recorder:
    """Statements and commits on the engine, in order, from one thread."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.seen, self.thread = engine, [], threading.get_ident()
        self.full: list[str] = []  # the statements whole

    def statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() == self.thread:
            self.seen.append(" ".join(statement.split())[:60])
            self.full.append(statement)

    def commit(self, conn) -> None:
        if threading.get_ident() == self.thread:
            self.seen.append("COMMIT")

    def __enter__(self) -> _Recorder:
        sa.event.listen(self.engine, "before_cursor_execute", self.statement)
        sa.event.listen(self.engine, "commit", self.commit)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self.statement)
        sa.event.remove(self.engine, "commit", self.commit)


def test_pay_holds_the_stock_rows_only_for_the_last_few_statements(own_app):
    app = own_app
    with app.app_context(), unit_of_work():
        variant_id = factories.product(f"Last Mug {uuid.uuid4().hex[:6]}", stock=5).variants[0].id
    client = _ready(app, variant_id, "last-rows@example.com")
    with app.app_context():
        engine = db.engine
    with _Recorder(engine) as recorder:
        response = pay(client)
    assert response.status_code == 303 and "/sandbox/checkout/" in response.headers["Location"]
    seen = recorder.seen
    reserved = next(i for i, s in enumerate(seen) if s.startswith("UPDATE variants SET reserved"))
    held = seen[reserved : seen.index("COMMIT", reserved)]
    # The order, its lines, its first event and its attempt were written before; from the
    # stock's first lock to the commit: the variant, its product's lock and summary, the
    # ledger line, the savepoint's end.
    assert not [s for s in held if s.startswith(("INSERT INTO orders", "INSERT INTO order_"))]
    assert not [s for s in held if s.startswith(("INSERT INTO checkout", "UPDATE orders"))]
    assert len(held) <= 5, held
    assert any(s.startswith("INSERT INTO checkout_attempts") for s in seen[:reserved])
    with app.app_context():
        assert db.session.get(Variant, variant_id).reserved == 1


def test_a_summary_waits_for_a_restock_in_flight_and_counts_it(own_app):
    """Staff restock size L of a shirt (its row and the product's locked, not yet committed)
    while a shopper pays for the last size S: the product stays "in stock". Computed before
    the restock committed, the summary would say sold out."""
    app = own_app
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        product = factories.product(
            f"Shirt {tag}",
            variants=[
                VariantInput(sku=f"{tag}-S", price=1000, options={"size": "S"}, stock=1),
                VariantInput(sku=f"{tag}-L", price=1000, options={"size": "L"}, stock=0),
            ],
        )
        product_id = product.id
        small, large = sorted(v.id for v in product.variants)
    client = _ready(app, small, "last-small@example.com")
    restocked, outcome = threading.Event(), {}

    def staff() -> None:
        with app.app_context(), unit_of_work():
            adjust_stock(large, 5, note="delivery")
            restocked.set()
            time.sleep(HOLD)  # the shopper runs into the product's row meanwhile
        outcome["staff"] = "ok"

    def shopper() -> None:
        restocked.wait(5)
        outcome["pay"] = pay(client).status_code

    threads = [threading.Thread(target=staff), threading.Thread(target=shopper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == {"staff": "ok", "pay": 303}
    with app.app_context():
        stock = {
            v.id: (v.stock_on_hand, v.reserved)
            for v in db.session.execute(sa.select(Variant).where(Variant.product_id == product_id))
            .scalars()
            .all()
        }
        assert stock == {small: (1, 1), large: (5, 0)}
        assert db.session.get(Product, product_id).in_stock is True


def test_a_reservation_writes_the_product_only_when_its_summary_changes(own_app):
    app = own_app
    with app.app_context(), unit_of_work():
        product = factories.product(f"Pair Mug {uuid.uuid4().hex[:6]}", stock=2)
        product_id, variant_id = product.id, product.variants[0].id
    with app.app_context():
        before = db.session.get(Product, product_id).updated_at
    first = _ready(app, variant_id, "pair-one@example.com")
    assert pay(first).status_code == 303
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert (product.in_stock, product.updated_at) == (True, before)  # one left: as it was
    second = _ready(app, variant_id, "pair-two@example.com")
    assert pay(second).status_code == 303
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.in_stock is False and product.updated_at > before  # the last one
        orders = db.session.execute(
            sa.select(Order.status).where(Order.email.like("pair-%@example.com"))
        ).scalars()
        assert list(orders) == [OrderStatus.PENDING_PAYMENT] * 2


def test_a_count_to_zero_waits_for_a_sale_in_flight_and_says_sold_out(own_app, monkeypatch):
    """A shopper reserves the last size M (product locked, not yet committed) while staff
    count size L down to 0: the product ends "sold out". Computed before the sale committed,
    the count's summary would still see M on the shelf and leave "in stock"."""
    import app.orders.services as order_services

    app = own_app
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        product = factories.product(
            f"Tee {tag}",
            variants=[
                VariantInput(sku=f"{tag}-M", price=1000, options={"size": "M"}, stock=1),
                VariantInput(sku=f"{tag}-L", price=1000, options={"size": "L"}, stock=5),
            ],
        )
        product_id = product.id
        medium, large = sorted(v.id for v in product.variants)
    client = _ready(app, medium, "last-medium@example.com")
    reserved, outcome = threading.Event(), {}
    real = order_services.reserve_order

    def reserve_then_hold(order, quote):
        real(order, quote)
        if threading.current_thread().name == "shopper":
            reserved.set()
            time.sleep(HOLD)  # staff count meanwhile

    monkeypatch.setattr("app.checkout.services.reserve_order", reserve_then_hold)

    def shopper() -> None:
        outcome["pay"] = pay(client).status_code

    def staff() -> None:
        reserved.wait(5)
        with app.app_context(), unit_of_work():
            set_stock_count(large, 0, note="shelf count")
        outcome["staff"] = "ok"

    threads = [threading.Thread(target=shopper, name="shopper"), threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcome == {"pay": 303, "staff": "ok"}
    with app.app_context():
        assert db.session.get(Product, product_id).in_stock is False


def _sold_after_the_check(app, monkeypatch, variant_id: int) -> None:
    """``variant_id`` sells out at the counter after the cart's check saw it in stock (2
    left), so the press finds out only when it reserves."""
    import app.cart.queries as cart_queries

    with app.app_context(), unit_of_work():
        set_stock_count(variant_id, 0, note="sold at the counter")
    real = cart_queries.available_for
    monkeypatch.setattr(
        cart_queries,
        "available_for",
        lambda variant, own: 2 if variant.id == variant_id else real(variant, own),
    )


def test_a_press_refused_at_its_second_line_alerts_nobody_about_its_first(own_app, monkeypatch):
    """The mug's reservation crosses its low-stock line, then the lamp (sold between the
    cart's check and the reservation) is short: the press is refused, the mug's reservation
    is undone, and no low-stock alert is even queued for it (the alert's task would find the
    mug above its line again and say nothing, but a queue in a sale has better to do)."""
    import app.inventory.tasks as inventory_tasks
    from app.notifications.models import Notification

    queued: list[list[int]] = []
    monkeypatch.setattr(inventory_tasks, "enqueue_low_stock_alert", queued.append)

    app = own_app
    monkeypatch.setitem(app.config, "STAFF_ALERT_EMAILS", ["ops@example.com"])
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        mug = factories.product(f"Alert Mug {tag}", stock=6).variants[0].id
        lamp = factories.product(f"Alert Lamp {tag}", stock=2).variants[0].id
    assert mug < lamp  # reserved in id order: the mug first
    client = app.test_client()
    add_to_cart(client, mug, 2)  # would leave 4, at or below the threshold of 5
    add_to_cart(client, lamp, 1)
    submit_details(client, email=f"refused-{tag}@example.com")
    _sold_after_the_check(app, monkeypatch, lamp)
    response = pay(client)
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    with app.app_context():
        assert db.session.get(Variant, mug).reserved == 0
        alerts = db.session.execute(
            sa.select(Notification.variables).where(Notification.template == "low-stock")
        ).scalars()
        assert not [a for a in alerts if tag in str(a)]
        orders = db.session.execute(
            sa.select(Order.id).where(Order.email == f"refused-{tag}@example.com")
        )
        assert not orders.all()
    assert queued == []


def test_a_press_refused_under_the_lock_keeps_the_order_it_replaced_replaced(own_app, monkeypatch):
    """The cart changed after a first press, so the second press replaces that order (its
    stock released) before it reserves the new one; the lamp then turns out sold meanwhile.
    The new order is undone, the replacement stands: no order left holding the mug."""
    app = own_app
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        mug = factories.product(f"Kept Mug {tag}", stock=5).variants[0].id
        lamp = factories.product(f"Kept Lamp {tag}", stock=2).variants[0].id
    email = f"kept-{tag}@example.com"
    client = _ready(app, mug, email)
    first = pay(client)
    assert "/sandbox/checkout/" in first.headers["Location"]
    add_to_cart(client, lamp, 1)
    _sold_after_the_check(app, monkeypatch, lamp)
    response = pay(client)
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    with app.app_context():
        orders = db.session.execute(
            sa.select(Order.status, Order.reservation_released_at).where(Order.email == email)
        ).all()
        assert len(orders) == 1  # the new one undone
        status, released = orders[0]
        assert status == OrderStatus.CANCELLED and released is not None
        assert db.session.get(Variant, mug).reserved == 0
        assert db.session.get(Variant, lamp).reserved == 0


def test_an_order_settled_between_the_check_and_the_lock_is_counted_as_it_is_now(
    own_app, monkeypatch
):
    """The press checked the cart with its own order still holding the last mug; by the
    time that order is locked, the sweeper has cancelled it and given the mug back. The
    press reads the stock again (not the numbers its check loaded) and pays with it."""
    import app.checkout.services as checkout_services
    from app.orders.models import CancelReason
    from app.orders.services import cancel_unpaid

    app = own_app
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        mug = factories.product(f"Settled Mug {tag}", stock=1).variants[0].id
    email = f"settled-{tag}@example.com"
    client = _ready(app, mug, email)
    assert "/sandbox/checkout/" in pay(client).headers["Location"]
    real = checkout_services._unpaid_orders

    def settled_meanwhile(cart):
        for order in db.session.execute(sa.select(Order).where(Order.email == email)).scalars():
            cancel_unpaid(order, note="reservation expired", reason=CancelReason.EXPIRED)
        return real(cart)

    monkeypatch.setattr(checkout_services, "_unpaid_orders", settled_meanwhile)
    response = pay(client)
    assert "/sandbox/checkout/" in response.headers["Location"]  # not "out of stock"
    with app.app_context():
        statuses = db.session.execute(
            sa.select(Order.status).where(Order.email == email).order_by(Order.id)
        ).scalars()
        assert list(statuses) == [OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT]
        assert db.session.get(Variant, mug).reserved == 1


def test_a_press_costs_a_fixed_small_number_of_statements(own_app):
    """A new order's press (read, place, reserve, create and record the session) and a press
    refused because the item sold out, in statements: the burst's budget (docs/performance.md).
    """
    app = own_app
    with app.app_context(), unit_of_work():
        variant_id = factories.product(f"Count Mug {uuid.uuid4().hex[:6]}", stock=1).variants[0].id
    paying = _ready(app, variant_id, "count-paid@example.com")
    late = _ready(app, variant_id, "count-late@example.com")
    with app.app_context():
        engine = db.engine
    # Both on the review page before the last one goes; only the presses are counted.
    tokens = {client: token(client, "/checkout/review") for client in (paying, late)}

    def press(client):
        form = {"csrf_token": tokens[client], "accept_terms": "y"}
        return client.post("/checkout/pay", data=form).headers["Location"]

    with _Recorder(engine) as recorder:
        assert "/sandbox/checkout/" in press(paying)
    paid = [s for s in recorder.seen if not s.startswith(("BEGIN", "COMMIT"))]
    statements = recorder.full
    with _Recorder(engine) as recorder:
        assert press(late) == "/cart"
    refused = [s for s in recorder.seen if not s.startswith(("BEGIN", "COMMIT"))]
    statements += recorder.full
    assert len(paid) <= 19, paid
    assert len(refused) <= 1, refused  # the cart with its lines: no order locked
    # A product's name, status and category path are all paying reads of it: not its
    # description, attributes or search texts (a few kB a line, and JSON to parse).
    assert not [s for s in statements if "description_html" in s or ".attributes" in s]


def test_a_press_for_what_sold_out_does_not_wait_for_a_writer(own_app):
    """In a rush for the last units, the presses that come too late are told so at once,
    not after every writer ahead of them. Here a writer (staff counting the shelf, say) holds
    the item for ``HOLD`` s: on SQLite that is the database's one write lock, which a form
    post used to queue for from its first statement; on PostgreSQL the variant's row."""
    app = own_app
    with app.app_context(), unit_of_work():
        variant_id = factories.product(f"Gone Mug {uuid.uuid4().hex[:6]}", stock=1).variants[0].id
    late = _ready(app, variant_id, "late-press@example.com")
    review = token(late, "/checkout/review")
    with app.app_context():
        engine = db.engine
    with engine.begin() as conn:  # the last unit goes to someone else
        conn.execute(sa.text("UPDATE variants SET reserved = 1 WHERE id = :v"), {"v": variant_id})
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE variants SET stock_on_hand = stock_on_hand WHERE id = :v"),
                {"v": variant_id},
            )
            holding.set()
            done.wait(HOLD)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    try:
        started = time.perf_counter()
        response = late.post("/checkout/pay", data={"csrf_token": review, "accept_terms": "y"})
        took = time.perf_counter() - started
    finally:
        done.set()
        thread.join()
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert took < HOLD / 2, f"the refused press waited {took:.2f} s for the writer"
    page = late.get("/cart").get_data(as_text=True)
    assert "Some items in your cart need your attention first." in page
    assert "Out of stock" in page


def _press_waiting(engine: sa.Engine) -> None:
    """Until a statement of another connection waits for a lock (PostgreSQL), at most 5 s;
    SQLite shows no waiters: there a form post waits for the write lock, ``HOLD`` s."""
    if engine.dialect.name != "postgresql":
        time.sleep(HOLD)
        return
    deadline = time.monotonic() + 5
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("nothing waited for the cart's lock")


def _another_tab(engine: sa.Engine, cart_id: int, change: str) -> threading.Thread:
    """Another tab changing the cart as the cart page does (its lines, then the cart touched,
    one transaction), committing only once the press waits for it; started in a thread."""
    holding = threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # SQLite: the write lock, from BEGIN
                lock = "SELECT id FROM carts WHERE id = :c FOR UPDATE"
                conn.execute(sa.text(lock), {"c": cart_id})
            conn.execute(sa.text(change), {"c": cart_id})
            conn.execute(
                sa.text("UPDATE carts SET updated_at = updated_at WHERE id = :c"), {"c": cart_id}
            )
            holding.set()
            _press_waiting(engine)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(5)
    return thread


FIRST_LINE = "(SELECT min(id) FROM cart_lines WHERE cart_id = :c)"
CHANGES = {  # what the other tab does, and the order's (mugs, plates) after it
    "three mugs": (f"UPDATE cart_lines SET quantity = 3 WHERE id = {FIRST_LINE}", (3, 1)),
    "the plate removed": (
        f"DELETE FROM cart_lines WHERE cart_id = :c AND id <> {FIRST_LINE}",
        (1, 0),
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_press_waiting_for_a_change_of_its_cart_pays_for_the_cart_as_changed(own_app, change):
    """Pay pressed while another tab's change (3 mugs instead of 1; the plate removed) holds
    the cart: the press waits for it and the order is the cart as changed, never the lines
    as they were before the press got the cart's lock (PostgreSQL reads a statement's joined
    rows as of its start: the cart read with its lines in one statement must not keep
    them)."""
    from app.cart.models import CartLine

    app = own_app
    tag = uuid.uuid4().hex[:6]
    with app.app_context(), unit_of_work():
        mug = factories.product(f"Tab Mug {tag}", stock=10).variants[0].id
        plate = factories.product(f"Tab Plate {tag}", stock=10).variants[0].id
    email = f"two-tabs-{tag}@example.com"
    client = app.test_client()
    add_to_cart(client, mug)
    add_to_cart(client, plate)
    submit_details(client, email=email)
    review = token(client, "/checkout/review")
    with app.app_context():
        engine = db.engine
        cart_id = db.session.execute(
            sa.select(CartLine.cart_id).where(CartLine.variant_id == mug)
        ).scalar_one()
    statement, (mugs, plates) = CHANGES[change]
    thread = _another_tab(engine, cart_id, statement)
    try:
        response = client.post("/checkout/pay", data={"csrf_token": review, "accept_terms": "y"})
    finally:
        thread.join()
    assert response.status_code == 303 and "/sandbox/checkout/" in response.headers["Location"]
    with app.app_context():
        order = db.session.execute(sa.select(Order).where(Order.email == email)).scalar_one()
        bought = {line.variant_id: line.quantity for line in order.lines}
        assert bought == {v: n for v, n in ((mug, mugs), (plate, plates)) if n}
        assert db.session.get(Variant, mug).reserved == mugs
        assert db.session.get(Variant, plate).reserved == plates


def test_the_locked_cart_says_when_its_row_changed_after_the_lines_were_read(own_app):
    """The one-statement read of a cart and its lines (PostgreSQL) flags a cart whose row
    another transaction changed and committed while the statement waited for its lock: its
    lines are as they were, so the press reads them again. SQLite has neither row locks nor
    the flag: a form post holds the database's write lock."""
    from app.cart.models import Cart, CartLine
    from app.cart.queries import locked_cart_statement
    from app.orders.services import cart_token_hash

    app = own_app
    with app.app_context(), unit_of_work():
        variant_id = factories.product(f"Flag Mug {uuid.uuid4().hex[:6]}", stock=10).variants[0].id
    _ready(app, variant_id, "flag@example.com")
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
        cart = db.session.execute(
            sa.select(Cart).join(CartLine).where(CartLine.variant_id == variant_id)
        ).scalar_one()
        cart_id, values = cart.id, {"token": cart.token, "owner_token": cart_token_hash(cart.token)}
    statement = locked_cart_statement(signed_in=False, dialect=dialect)
    if dialect != "postgresql":
        assert "FOR UPDATE" not in str(statement) and "unchanged" not in str(statement)
        return
    thread = _another_tab(engine, cart_id, "UPDATE cart_lines SET quantity = 3 WHERE cart_id = :c")
    found: list = []
    with app.app_context(), unit_of_work():
        rows = db.session.execute(statement, values).all()
        found.extend((row.unchanged, row[1].quantity) for row in rows)
    thread.join()
    assert found == [(False, 1)]  # changed; and why it matters: the lines as it started

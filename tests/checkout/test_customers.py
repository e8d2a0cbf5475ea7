"""Signed-in shoppers as Stripe Customers: made once at the first checkout (also when two
checkouts of a new account run at once), used for every session of the account, kept in step
with its email and name; cards saved at Checkout listed on the account page and removed."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, User
from app.db import commit_unit_of_work, unit_of_work, utcnow
from app.extensions import db as _db
from app.payments.customers import customer_for_checkout
from app.payments.models import PaymentCustomer
from tests.accounts.helpers import login, make_user
from tests.catalog import factories
from tests.checkout.conftest import point_at
from tests.checkout.helpers import add_to_cart, latest_order, pay, submit_details
from tests.concurrency import run_at_once
from tests.fakes.stripe_server import FakeStripe


def shopper(client, email: str = "ada@example.com"):
    user = make_user(email, name="Ada Lovelace")
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    assert login(client, email).status_code == 302
    add_to_cart(client, variant.id, 1)
    submit_details(client, email=email)
    return user


def session_of(response) -> str:
    return response.headers["Location"].rsplit("/", 1)[1]


def test_a_first_checkout_makes_the_customer_and_every_session_uses_it(client, db, fake_stripe):
    user = shopper(client)
    first = pay(client)
    assert first.status_code == 303

    [made] = fake_stripe.requests_to("POST", "/v1/customers")
    assert made.params == {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "metadata": {"user_id": str(user.id)},
    }
    assert made.idempotency_key.startswith(f"customer-{user.id}-")
    [customer_id] = fake_stripe.customers
    [sent] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert sent.params["customer"] == customer_id
    assert "customer_email" not in sent.params  # Stripe refuses both
    assert sent.params["saved_payment_method_options"] == {"payment_method_save": "enabled"}
    assert "payment_method_types" not in sent.params  # the Dashboard decides (wallets, Link)
    assert fake_stripe.sessions[session_of(first)]["customer"] == customer_id

    # A second order of the same account: the same Customer, none made.
    fake_stripe.complete(session_of(first))
    variant = factories.product("Wool Scarf", price=1900, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="ada@example.com")
    second = pay(client)
    assert session_of(second) != session_of(first)
    assert len(fake_stripe.requests_to("POST", "/v1/customers")) == 1
    assert fake_stripe.sessions[session_of(second)]["customer"] == customer_id


def test_guests_stay_anonymous_to_stripe(client, db, fake_stripe):
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="guest@example.com")
    assert pay(client).status_code == 303
    assert fake_stripe.customers == {}
    [sent] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert sent.params["customer_email"] == "guest@example.com"
    assert "customer" not in sent.params and "saved_payment_method_options" not in sent.params


def test_when_stripe_cannot_make_the_customer_the_shopper_still_pays(client, db, fake_stripe):
    shopper(client)
    fake_stripe.fail_next(3, status=500)  # the create and both of the SDK's retries
    response = pay(client)
    assert response.status_code == 303 and "/pay/cs_test_" in response.headers["Location"]
    assert fake_stripe.customers == {}
    [sent] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert sent.params["customer_email"] == "ada@example.com"


def test_a_card_saved_at_checkout_is_listed_and_can_be_removed(client, db, fake_stripe):
    user = shopper(client)
    assert "You have no saved cards." in client.get("/account/cards").get_data(as_text=True)
    session_id = session_of(pay(client))
    fake_stripe.complete(session_id, save_card=True)
    [customer_id] = fake_stripe.customers
    other = fake_stripe._create_customer({"email": "eve@example.com"})["id"]
    someone_elses = fake_stripe.add_card(other, brand="mastercard", last4="4444")

    page = client.get("/account/cards")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Visa ending in 4242" in html and "12/2034" in html
    assert "4444" not in html
    [mine] = [pm for pm in fake_stripe.payment_methods.values() if pm["customer"] == customer_id]
    assert f"/account/cards/{mine['id']}/remove" in html
    token = html.split('name="csrf_token" value="')[1].split('"')[0]

    # Another customer's card, a made-up id and a hostile one: nothing is detached.
    for card_id in (someone_elses["id"], "pm_nope", "x" * 65, "pm_1%00"):
        response = client.post(f"/account/cards/{card_id}/remove", data={"csrf_token": token})
        assert response.status_code in (303, 400, 404), card_id  # 400: the NUL
    assert not fake_stripe.requests_to("POST", f"/v1/payment_methods/{someone_elses['id']}/detach")
    assert fake_stripe.payment_methods[someone_elses["id"]]["customer"] == other

    response = client.post(f"/account/cards/{mine['id']}/remove", data={"csrf_token": token})
    assert response.status_code == 303
    assert fake_stripe.payment_methods[mine["id"]]["customer"] is None
    html = client.get("/account/cards").get_data(as_text=True)
    assert "Removed the Visa card ending in 4242" in html
    assert "You have no saved cards." in html
    audit = _db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "account.card_removed")
    ).scalar_one()
    assert audit.target_user_id == user.id and audit.target == "visa ending 4242"
    # Removed already (another tab): said so, nothing else happens.
    again = client.post(f"/account/cards/{mine['id']}/remove", data={"csrf_token": token})
    assert again.status_code == 303
    assert "not saved in your account" in client.get("/account/cards").get_data(as_text=True)


def test_saved_cards_say_so_when_stripe_is_down(client, db, fake_stripe):
    shopper(client)
    fake_stripe.complete(session_of(pay(client)), save_card=True)
    fake_stripe.fail_next(3, status=500)
    html = client.get("/account/cards").get_data(as_text=True)
    assert "can't be shown right now" in html
    assert "You have no saved cards." not in html


def test_a_new_name_and_email_reach_the_customer(client, db, fake_stripe):
    from tests.accounts.helpers import csrf_token

    shopper(client)
    pay(client)
    [customer_id] = fake_stripe.customers
    response = client.post(
        "/account/profile",
        data={
            "name": "Ada King",
            "phone": "",
            "csrf_token": csrf_token(client, "/account/profile"),
        },
    )
    assert response.status_code in (200, 302, 303)
    assert fake_stripe.customers[customer_id]["name"] == "Ada King"
    [update] = fake_stripe.requests_to("POST", f"/v1/customers/{customer_id}")
    assert update.params == {"email": "ada@example.com", "name": "Ada King"}
    row = _db.session.execute(sa.select(PaymentCustomer)).scalar_one()
    assert (row.email, row.name) == ("ada@example.com", "Ada King")


def test_a_deleted_account_takes_its_customer_and_cards_with_it(client, db, fake_stripe):
    from tests.accounts.helpers import delete_account

    shopper(client)
    fake_stripe.complete(session_of(pay(client)), save_card=True)
    [customer_id] = fake_stripe.customers
    response = delete_account(client)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    assert customer_id not in fake_stripe.customers
    assert all(pm["customer"] is None for pm in fake_stripe.payment_methods.values())
    assert _db.session.execute(sa.select(sa.func.count(PaymentCustomer.id))).scalar_one() == 0


@pytest.fixture
def shared_stripe(own_app, monkeypatch):
    fake = FakeStripe().start()
    point_at(own_app, fake, monkeypatch)
    yield fake
    fake.stop()


def test_two_first_checkouts_of_one_account_at_once_make_one_customer(own_app, shared_stripe):
    with own_app.app_context(), unit_of_work():
        user_id = make_user(f"twin-{uuid.uuid4().hex[:8]}@example.com").id
    # The first create is still being answered when the second arrives (Stripe: 409 for a
    # key in flight; the gateway waits and gets the same Customer back).
    shared_stripe.delay_next(0.4)

    def checkout(_: int) -> str | None:
        with own_app.test_request_context(method="POST"), unit_of_work():
            return customer_for_checkout(user_id)

    results = run_at_once(own_app, 2, checkout)
    assert results[0] == results[1] and str(results[0]).startswith("cus_"), results
    assert len(shared_stripe.customers) == 1
    creates = shared_stripe.requests_to("POST", "/v1/customers")
    assert len({r.idempotency_key for r in creates}) == 1 and len(creates) >= 2
    with own_app.app_context():
        rows = (
            _db.session.execute(
                sa.select(PaymentCustomer).where(PaymentCustomer.user_id == user_id)
            )
            .scalars()
            .all()
        )
        assert [row.customer_id for row in rows] == [results[0]]


def test_the_sandbox_offers_to_save_and_shows_the_saved_card(client, db):
    """The embedded default (no Stripe): the TEST MODE page mimics Checkout's box."""
    shopper(client)
    url = pay(client).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "Save my payment details" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(url.rstrip("/") + "/pay", data={"csrf_token": token, "save_card": "1"})
    assert latest_order().paid_at is not None
    html = client.get("/account/cards").get_data(as_text=True)
    assert "Visa ending in 4242" in html


def test_two_pay_presses_of_a_new_account_at_once_make_one_customer(own_app, shared_stripe):
    """Two tabs of one new account press Pay together: one Customer at Stripe, one row, and
    every session made names it."""
    email = f"tabs-{uuid.uuid4().hex[:8]}@example.com"
    with own_app.app_context(), unit_of_work():
        make_user(email)
        variant_id = factories.product(f"Tab Mug {uuid.uuid4().hex[:6]}", stock=5).variants[0].id
    tabs = [own_app.test_client() for _ in range(2)]
    for tab in tabs:
        assert login(tab, email).status_code == 302
    add_to_cart(tabs[0], variant_id, 1)
    submit_details(tabs[0], email=email)
    tokens = [
        tab.get("/checkout/review")
        .get_data(as_text=True)
        .split('"X-CSRFToken": "')[1]
        .split('"')[0]
        for tab in tabs
    ]
    shared_stripe.delay_next(0.4)  # the first create is still being answered at the second

    def press(i: int) -> int:
        response = tabs[i].post(
            "/checkout/pay", data={"csrf_token": tokens[i], "accept_terms": "y"}
        )
        return response.status_code

    statuses = run_at_once(own_app, 2, press)
    assert statuses == [303, 303], statuses
    [customer_id] = shared_stripe.customers
    sessions = shared_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert sessions and all(r.params["customer"] == customer_id for r in sessions)
    with own_app.app_context():
        user_id = _db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
        rows = (
            _db.session.execute(
                sa.select(PaymentCustomer.customer_id).where(PaymentCustomer.user_id == user_id)
            )
            .scalars()
            .all()
        )
    assert rows == [customer_id]


def test_a_shopper_back_after_a_while_pays_and_sees_their_cards(client, db, fake_stripe):
    """Loading a signed-in shopper notes when their session was last seen (a change the
    request carries); asking Stripe must not trip over it (was a 500)."""
    from datetime import timedelta

    from app.accounts.models import UserSession

    shopper(client)
    _db.session.execute(sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    commit_unit_of_work()
    assert client.get("/account/cards").status_code == 200
    _db.session.execute(sa.update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    commit_unit_of_work()
    assert pay(client).status_code == 303
    assert len(fake_stripe.customers) == 1


def test_no_customer_is_made_for_a_press_that_cannot_go_ahead(client, db, fake_stripe):
    make_user("ada@example.com")
    variant = factories.product("Linen Shirt", price=2500, stock=5).variants[0]
    commit_unit_of_work()
    login(client)
    add_to_cart(client, variant.id, 1)  # no delivery details yet
    from tests.checkout.helpers import token

    response = client.post(
        "/checkout/pay", data={"csrf_token": token(client, "/cart"), "accept_terms": "y"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/checkout"
    assert fake_stripe.customers == {}
    assert not fake_stripe.requests_to("POST", "/v1/customers")


def test_a_customer_deleted_at_stripe_does_not_stop_anyone_paying(client, db, fake_stripe):
    shopper(client)
    fake_stripe.complete(session_of(pay(client)))
    [customer_id] = fake_stripe.customers
    del fake_stripe.customers[customer_id]  # deleted in the Dashboard, say
    variant = factories.product("Wool Scarf", price=1900, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="ada@example.com")
    response = pay(client)
    assert response.status_code == 303 and "/pay/cs_test_" in response.headers["Location"]
    last = fake_stripe.requests_to("POST", "/v1/checkout/sessions")[-1]
    assert "customer" not in last.params and last.params["customer_email"] == "ada@example.com"
    assert _db.session.execute(sa.select(sa.func.count(PaymentCustomer.id))).scalar_one() == 0


def test_after_a_customer_was_deleted_at_stripe_the_next_checkout_makes_a_new_one(
    client, db, fake_stripe
):
    """Stripe keeps an idempotency key's first answer for 24 hours and replays it, even for
    an object deleted since: asked again under the first Customer's key, it would hand back
    the deleted one, and the account could not save cards for a day."""
    user = shopper(client)
    fake_stripe.complete(session_of(pay(client)))
    [deleted] = fake_stripe.customers
    del fake_stripe.customers[deleted]  # deleted in the Dashboard
    for name in ("Wool Scarf", "Felt Hat"):  # the first finds it gone, the second makes one
        variant = factories.product(name, price=1900, stock=5).variants[0]
        commit_unit_of_work()
        add_to_cart(client, variant.id, 1)
        submit_details(client, email="ada@example.com")
        response = pay(client)
        assert response.status_code == 303 and "/pay/cs_test_" in response.headers["Location"]
        fake_stripe.complete(session_of(response))
    [made] = fake_stripe.customers
    assert made != deleted
    assert fake_stripe.sessions[session_of(response)]["customer"] == made
    keys = [r.idempotency_key for r in fake_stripe.requests_to("POST", "/v1/customers")]
    assert len(keys) == 2 and len(set(keys)) == 2
    [forgotten] = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "payments.customer_forgotten")
    ).scalars()
    assert (forgotten.target_user_id, forgotten.target) == (user.id, deleted)


def test_a_customer_left_by_an_outage_is_deleted_by_the_sweeper(client, db, fake_stripe):
    from app.payments.tasks import sweep_deleted_customers
    from tests.accounts.helpers import delete_account

    shopper(client)
    pay(client)
    [customer_id] = fake_stripe.customers
    fake_stripe.fail_next(50, status=500)  # Stripe is down while the account is deleted
    delete_account(client)
    assert customer_id in fake_stripe.customers
    with fake_stripe._lock:
        fake_stripe._failures.clear()  # back up
    assert sweep_deleted_customers.call_local() == 1
    assert customer_id not in fake_stripe.customers
    assert _db.session.execute(sa.select(sa.func.count(PaymentCustomer.id))).scalar_one() == 0


def test_test_and_live_keys_keep_their_own_customers(client, db, app, fake_stripe, monkeypatch):
    """A test-mode Customer does not exist for live keys: switching keys makes a new one
    instead of sending an id Stripe would refuse."""
    shopper(client)
    fake_stripe.complete(session_of(pay(client)))
    [test_customer] = fake_stripe.customers
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_live_shop")
    from app.payments import stripe_gateway

    stripe_gateway.reset(app)
    variant = factories.product("Wool Scarf", price=1900, stock=5).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id, 1)
    submit_details(client, email="ada@example.com")
    live = pay(client)
    assert live.status_code == 303
    [live_customer] = set(fake_stripe.customers) - {test_customer}
    assert fake_stripe.sessions[session_of(live)]["customer"] == live_customer
    realms = _db.session.execute(sa.select(PaymentCustomer.provider)).scalars().all()
    assert sorted(realms) == ["stripe-live", "stripe-test"]


def test_a_customer_forgotten_twice_is_audited_once_and_the_newest_stays_named(
    client, db, fake_stripe
):
    """Two presses that both held the old Customer find it gone: the second forget finds no
    row and writes nothing (else a slow press could make an older Customer the "last
    forgotten" again, and the next key would name it)."""
    from app.payments.customers import _last_forgotten, forget_customer

    user = shopper(client)
    fake_stripe.complete(session_of(pay(client)))
    [first] = fake_stripe.customers
    forget_customer(user.id, first)
    forget_customer(user.id, first)  # the slower press
    commit_unit_of_work()
    forgotten = db.session.execute(
        sa.select(AuditEvent.target).where(AuditEvent.action == "payments.customer_forgotten")
    ).scalars()
    assert list(forgotten) == [first]
    assert _last_forgotten(user.id) == first

"""Back in stock: a shopper asks to be told when a sold-out option returns, gets exactly one
e-mail when stock comes back (whoever brings it back, however often the signal fires), and
staff see who is waiting."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.inventory.models import StockWaiter
from app.inventory.services import adjust_stock, reserve, set_stock_count
from app.inventory.waitlist import tell_waiting
from app.notifications.models import Notification
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import token

HX = {"HX-Request": "true"}


def sold_out(name="Merino Jumper"):
    product = factories.product(name, price=8900, stock=0)
    commit_unit_of_work()
    return product


def ask(client, product, email, headers=None, variant_id=None):
    page = f"/products/{product.slug}"
    return client.post(
        f"{page}/back-in-stock",
        data={
            "variant_id": variant_id or product.variants[0].id,
            "email": email,
            "csrf_token": token(client, page),
        },
        headers=headers,
    )


def emails():
    _db.session.expire_all()
    return list(
        _db.session.execute(
            sa.select(Notification)
            .where(Notification.template == "back-in-stock")
            .order_by(Notification.id)
        ).scalars()
    )


def test_a_sold_out_option_offers_the_form_and_says_what_happens(client, db):
    product = sold_out()
    page = client.get(f"/products/{product.slug}").get_data(as_text=True)
    assert "Sold out. Email me when it is back:" in page
    response = ask(client, product, "Ada@Example.com")
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "We will email you once when Merino Jumper is back in stock." in shown
    [waiter] = _db.session.execute(sa.select(StockWaiter)).scalars().all()
    assert (waiter.email, waiter.notified_at) == ("ada@example.com", None)
    swapped = ask(client, product, "not-an-email", headers=HX)
    assert swapped.status_code == 200
    assert swapped.get_data(as_text=True) == (
        '<p class="field-error">Enter a valid email address, like name@example.com.</p>'
    )


def test_an_option_in_stock_needs_no_waiting(client, db):
    product = factories.product("Mug", price=1500, stock=3)
    commit_unit_of_work()
    assert "Email me when it is back" not in client.get(f"/products/{product.slug}").get_data(
        as_text=True
    )
    said = ask(client, product, "ada@example.com", headers=HX).get_data(as_text=True)
    assert "This option is in stock: you can buy it now." in said
    huge = ask(client, product, "x" * 100_000 + "@example.com", headers=HX)
    assert huge.status_code in (200, 413)


def test_a_restock_sends_one_email_per_waiting_shopper_and_only_once(client, db):
    product = sold_out()
    variant = product.variants[0]
    for address in ("ada@example.com", "bob@example.com", "ada@example.com"):
        ask(client, product, address)
    adjust_stock(variant.id, +3, note="delivery")
    commit_unit_of_work()
    sent = emails()
    assert sorted(n.to_address for n in sent) == ["ada@example.com", "bob@example.com"]
    assert sent[0].variables["product_name"] == "Merino Jumper"
    assert (
        sent[0].variables["product_url"].endswith(f"/products/{product.slug}?variant={variant.id}")
    )
    adjust_stock(variant.id, +2, note="another delivery")  # still in stock: no new signal
    commit_unit_of_work()
    assert tell_waiting([variant.id]) == 0  # the task run again finds nobody to tell
    commit_unit_of_work()
    assert len(emails()) == 2


def test_sold_out_again_and_back_again_tells_only_those_who_asked_again(client, db):
    product = sold_out()
    variant = product.variants[0]
    ask(client, product, "ada@example.com")
    set_stock_count(variant.id, 1, note="found one")
    commit_unit_of_work()
    reserve(variant.id, 1, reference="SS-TEST-0001")  # the last one is taken
    commit_unit_of_work()
    ask(client, product, "bob@example.com")
    adjust_stock(variant.id, +4, note="delivery")
    commit_unit_of_work()
    assert [n.to_address for n in emails()] == ["ada@example.com", "bob@example.com"]


def test_an_unpublished_product_coming_back_emails_nobody(client, db):
    product = sold_out()
    ask(client, product, "ada@example.com")
    product.status = "archived"
    commit_unit_of_work()
    adjust_stock(product.variants[0].id, +3, note="delivery")
    commit_unit_of_work()
    assert emails() == []


def test_staff_see_who_is_waiting(app, client, db):
    product = sold_out()
    ask(client, product, "ada@example.com")
    ask(client, product, "bob@example.com")
    staff = app.test_client()
    sign_in_staff(staff)
    variant = product.variants[0]
    listing = staff.get(f"/admin/inventory/{variant.id}").get_data(as_text=True)
    assert "2 shoppers asked to be emailed when it is back in stock." in listing
    assert "ada@example.com" in listing and "bob@example.com" in listing
    edit = staff.get(f"/admin/products/{product.id}").get_data(as_text=True)
    assert '2<span class="visually-hidden"> shoppers waiting for it to come back</span>' in edit


def test_deleting_the_account_forgets_its_requests(client, db):
    from app.accounts.profile import anonymise_account

    user = make_user("grace@example.com")
    product = sold_out()
    login(client, "grace@example.com")
    ask(client, product, "grace@example.com")
    anonymise_account(user, actor_id=user.id)
    commit_unit_of_work()
    assert _db.session.execute(sa.select(sa.func.count()).select_from(StockWaiter)).scalar() == 0


def test_the_app_asks_through_the_api_with_the_same_rules(client, db):
    from tests.api.helpers import bearer, tokens

    product = sold_out()
    variant_id = product.variants[0].id
    path = f"/api/v1/products/{product.slug}/back-in-stock"
    guest = client.post(path, json={"variant_id": variant_id, "email": "Bob@Example.com"})
    assert guest.status_code == 200
    assert (
        guest.get_json()["message"] == "We will email you once when Merino Jumper is back in stock."
    )
    make_user("grace@example.com")
    commit_unit_of_work()
    signed_in = bearer(tokens(client, "grace@example.com")["access_token"])
    mine = client.post(path, json={"variant_id": variant_id}, headers=signed_in)
    assert mine.get_json()["email"] == "grace@example.com"
    refused = client.post(path, json={"variant_id": variant_id, "email": "nope"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["email"] == [
        "Enter a valid email address, like name@example.com."
    ]
    other = factories.product("Mug", price=1500, stock=3)
    commit_unit_of_work()
    wrong = client.post(path, json={"variant_id": other.variants[0].id, "email": "a@b.example"})
    assert wrong.status_code == 422
    waiting = _db.session.execute(sa.select(StockWaiter.email).order_by(StockWaiter.id)).scalars()
    assert list(waiting) == ["bob@example.com", "grace@example.com"]


def test_signed_in_shoppers_are_told_at_their_own_address_and_unsubscribes_hold(client, db):
    from app.notifications.services import unsubscribe

    product = sold_out()
    make_user("grace@example.com")
    commit_unit_of_work()
    login(client, "grace@example.com")
    ask(client, product, "victim@example.com")  # typed someone else's address
    waiter = _db.session.execute(sa.select(StockWaiter)).scalar_one()
    assert waiter.email == "grace@example.com"
    unsubscribe("grace@example.com", "marketing")
    commit_unit_of_work()
    adjust_stock(product.variants[0].id, +2, note="delivery")
    commit_unit_of_work()
    assert emails() == []

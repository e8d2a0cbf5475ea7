"""Staff orders: list and filters, detail, fulfilment (processing → shipped → delivered) with
the customer's emails, staff notes, cancellation, permissions and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, Role
from app.accounts.permissions import ROLE_PERMISSIONS
from app.catalog.models import StockMovement, Variant
from app.checkout.completion import complete_session as fulfil_checkout_session
from app.db import commit_unit_of_work, utcnow
from app.extensions import db
from app.notifications.models import Notification
from app.orders.models import Order, OrderStatus
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories
from tests.checkout.helpers import paid_sandbox_session
from tests.orders.helpers import order_for


def paid_order(
    lines=(("Merino Jumper", 2500, 2),), *, stock: int = 10, email: str = "ada@example.com"
) -> Order:
    """A paid sandbox order (stock sold) for ``lines`` of (product name, price, quantity)."""
    variants = [
        factories.product(name, price=price, stock=stock).variants[0] for name, price, _ in lines
    ]
    order = order_for([(v, q) for v, (_, _, q) in zip(variants, lines, strict=True)], email=email)
    session_id = paid_sandbox_session(order, f"adm{order.id}")
    fulfil_checkout_session(session_id)
    db.session.flush()
    assert order.status == OrderStatus.PAID
    return order


def unpaid_order(name: str = "Waiting Lamp", email: str = "bob@example.com") -> Order:
    variant = factories.product(name, stock=5).variants[0]
    return order_for([(variant, 1)], email=email)


def mails(template: str, to: str = "ada@example.com") -> list[Notification]:
    return list(
        db.session.execute(
            sa.select(Notification)
            .where(Notification.template == template, Notification.to_address == to)
            .order_by(Notification.id)
        ).scalars()
    )


def audits(action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars()
    )


def reload(order: Order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def post(client, path: str, data: dict | None = None, page: str | None = None):
    token = csrf(client, page or path.rsplit("/", 1)[0])
    return client.post(path, data={**(data or {}), "csrf_token": token})


# -- access ------------------------------------------------------------------------------------

ACTIONS = ["process", "ship", "deliver", "notes", "cancel", "refunds"]


def test_customers_and_visitors_get_404_everywhere(client, db):
    order = paid_order()
    commit_unit_of_work()
    paths = [
        "/admin/orders",
        f"/admin/orders/{order.id}",
        f"/admin/orders/{order.id}/invoice.pdf",
        f"/admin/orders/{order.id}/packing-slip.pdf",
    ]
    for path in paths:
        assert client.get(path).status_code == 404
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    for path in paths:
        assert client.get(path).status_code == 404
    for action in ACTIONS:
        assert client.post(f"/admin/orders/{order.id}/{action}").status_code in (400, 404)
    assert reload(order).status == OrderStatus.PAID


def test_staff_without_orders_manage_get_403_on_actions(client, db, monkeypatch):
    order = paid_order()
    commit_unit_of_work()
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.STAFF, ROLE_PERMISSIONS[Role.STAFF] - {"orders.manage"}
    )
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Start processing" not in html and "Add note" not in html
    token = csrf(client, f"/admin/orders/{order.id}")
    for action in ["process", "notes", "cancel"]:
        response = client.post(f"/admin/orders/{order.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert reload(order).status == OrderStatus.PAID


def test_staff_without_refunds_issue_cannot_refund_by_cancelling(client, db):
    order = paid_order()
    waiting = unpaid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")  # orders.manage, but not refunds.issue
    page = f"/admin/orders/{order.id}"
    html = client.get(page).get_data(as_text=True)
    assert "Cancel order" not in html and "ask someone who may issue refunds" in html
    response = client.post(f"{page}/cancel", data={"csrf_token": csrf(client, page)})
    assert response.status_code == 403
    paid = reload(order)
    assert paid.status == OrderStatus.PAID and not paid.refunds
    # Nothing to refund: staff may cancel an unpaid order.
    page = f"/admin/orders/{waiting.id}"
    response = client.post(f"{page}/cancel", data={"csrf_token": csrf(client, page)})
    assert response.status_code == 303, response.get_data(as_text=True)[-1500:]
    assert reload(waiting).status == OrderStatus.CANCELLED


def test_posts_without_csrf_are_refused(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    for action in ACTIONS:
        data = {"carrier": "DHL", "tracking_number": "X1", "body": "hello", "amount": "1"}
        response = client.post(f"/admin/orders/{order.id}/{action}", data=data)
        assert response.status_code == 400
    order = reload(order)
    assert order.status == OrderStatus.PAID and not order.notes and not order.refunds


@pytest.mark.parametrize("path", ["/admin/orders/99999999999", "/admin/orders/0"])
def test_out_of_range_ids_are_404(client, db, path):
    sign_in_staff(client, "staff")
    assert client.get(path).status_code == 404
    assert client.get(path + "/invoice.pdf").status_code == 404
    token = csrf(client, "/admin/orders")
    assert client.post(path + "/process", data={"csrf_token": token}).status_code == 404


# -- list --------------------------------------------------------------------------------------


def _numbers(html: str) -> set[str]:
    return set(re.findall(r">(SS-[0-9A-Z]{4}-[0-9A-Z]{4})<", html))


def test_list_filters_by_status_customer_dates_and_total(client, db):
    cheap = paid_order((("Tea Towel", 800, 1),), email="ada@example.com")
    dear = paid_order((("Oak Table", 45000, 1),), email="grace@example.com")
    waiting = unpaid_order(email="bob@example.com")
    waiting.created_at = utcnow() - timedelta(days=40)
    commit_unit_of_work()
    sign_in_staff(client, "staff")

    everything = _numbers(client.get("/admin/orders").get_data(as_text=True))
    assert {cheap.number, dear.number, waiting.number} <= everything

    by_status = client.get("/admin/orders?status=pending_payment").get_data(as_text=True)
    assert _numbers(by_status) & {cheap.number, dear.number, waiting.number} == {waiting.number}

    by_customer = client.get("/admin/orders?q=GRACE@").get_data(as_text=True)
    assert _numbers(by_customer) == {dear.number}
    by_number = client.get(f"/admin/orders?q={cheap.number.lower()}").get_data(as_text=True)
    assert _numbers(by_number) == {cheap.number}
    wildcard = client.get("/admin/orders?q=%25").get_data(as_text=True)
    assert _numbers(wildcard) == set()  # a typed % is a literal, not "everything"

    today = utcnow().date().isoformat()
    recent = client.get(f"/admin/orders?from={today}&to={today}").get_data(as_text=True)
    assert {cheap.number, dear.number} <= _numbers(recent)
    assert waiting.number not in _numbers(recent)

    # Totals are typed in euros: the table is 450.00 (plus shipping is free above 50).
    large = client.get("/admin/orders?min=100").get_data(as_text=True)
    assert dear.number in _numbers(large) and cheap.number not in _numbers(large)
    small = client.get("/admin/orders?max=20,50").get_data(as_text=True)
    assert cheap.number in _numbers(small) and dear.number not in _numbers(small)
    exact = client.get(f"/admin/orders?min={dear.total / 100:.2f}&max={dear.total / 100:.2f}")
    assert _numbers(exact.get_data(as_text=True)) == {dear.number}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min=ten", "Enter an amount like 25 or 12.50."),
        ("max=1.234", "Enter an amount like 25 or 12.50."),
        ("max=-5", "Enter an amount like 25 or 12.50."),
        ("min=1e9", "Enter an amount like 25 or 12.50."),
        ("from=25/11/2026", "Enter a date like 2026-11-25."),
        ("from=2026-02-30", "Enter a date like 2026-11-25."),
        ("from=2026-11-25&to=2026-11-01", "The end date is before the start date."),
        ("min=50&max=10", "The largest total is below the smallest."),
    ],
)
def test_bad_filters_are_explained_not_a_500(client, db, query, message):
    sign_in_staff(client, "staff")
    response = client.get(f"/admin/orders?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html


def test_htmx_filtering_returns_the_results_partial(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    response = client.get(
        "/admin/orders?status=paid",
        headers={"HX-Request": "true", "HX-Target": "admin-results"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and order.number in html
    assert "<nav" in html and "admin-filters" not in html and "<html" not in html


def test_list_sorts_by_total_and_pages(client, db):
    orders = [paid_order(((f"Vase {i}", 1000 + i * 100, 1),)) for i in range(3)]
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/orders?sort=total&q=ada@").get_data(as_text=True)
    found = re.findall(r">(SS-[0-9A-Z]{4}-[0-9A-Z]{4})<", html)
    assert found == [o.number for o in orders]
    assert 'aria-sort="ascending"' in html
    html = client.get("/admin/orders?sort=-total&q=ada@").get_data(as_text=True)
    assert re.findall(r">(SS-[0-9A-Z]{4}-[0-9A-Z]{4})<", html) == [o.number for o in orders][::-1]
    odd = client.get("/admin/orders?sort=email;drop&page=99999999999999&per_page=7")
    assert odd.status_code == 200


# -- detail ------------------------------------------------------------------------------------


def test_detail_shows_lines_addresses_payment_and_timeline(client, db):
    order = paid_order((("Merino Jumper", 2500, 2), ("Stoneware Mug", 1200, 1)))
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    for text in [
        order.number,
        "Merino Jumper",
        "Stoneware Mug",
        "12 Analytical Street",
        "ada@example.com",
        "€62.00",  # total: 50 + 12, shipping free above 50
        "pi_adm",
        "Awaiting payment",  # the timeline starts with the order placed
        "Paid",
        "Start processing",
        "Invoice (PDF)",
    ]:
        assert text in html, text
    # The staff role has no refunds.issue: no refund form.
    assert "Put items back in stock" not in html


# -- fulfilment --------------------------------------------------------------------------------


def test_processing_shipping_and_delivery_email_the_customer(client, db):
    order = paid_order()
    commit_unit_of_work()
    staff = sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"

    response = post(client, f"{page}/process", page=page)
    assert response.status_code == 303 and response.headers["Location"] == page
    assert reload(order).status == OrderStatus.PROCESSING

    html = client.get(page).get_data(as_text=True)
    assert "Mark as shipped" in html and 'for="carrier"' in html and 'for="tracking_number"' in html
    response = post(
        client,
        f"{page}/ship",
        {
            "carrier": "DHL",
            "tracking_number": "JD014600003828",
            "tracking_url": "https://www.dhl.com/track?id=JD014600003828",
        },
        page=page,
    )
    assert response.status_code == 303
    order = reload(order)
    assert order.status == OrderStatus.SHIPPED and order.shipped_at is not None
    assert (order.carrier, order.tracking_number) == ("DHL", "JD014600003828")
    [shipped] = mails("order-shipped")
    assert shipped.variables["tracking_number"] == "JD014600003828"
    assert shipped.variables["carrier"] == "DHL"
    assert shipped.variables["tracking_url"] == "https://www.dhl.com/track?id=JD014600003828"
    assert shipped.status in ("sent", "queued")

    response = post(client, f"{page}/deliver", page=page)
    assert response.status_code == 303
    order = reload(order)
    assert order.status == OrderStatus.DELIVERED and order.delivered_at is not None
    assert len(mails("order-delivered")) == 1
    events = [(e.from_status, e.to_status, e.actor_id) for e in order.events]
    assert ("paid", "processing", staff.id) in events
    assert ("processing", "shipped", staff.id) in events
    assert ("shipped", "delivered", staff.id) in events
    assert {a.target for a in audits("orders.ship")} == {order.number}
    assert audits("orders.process") and audits("orders.deliver")
    html = client.get(page).get_data(as_text=True)
    assert "JD014600003828" in html and "Mark as shipped" not in html


def test_shipping_without_a_tracking_link_still_gives_the_customer_a_link(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    post(client, f"{page}/process", page=page)
    post(client, f"{page}/ship", {"carrier": "An Post", "tracking_number": "LX1"}, page=page)
    [shipped] = mails("order-shipped")
    assert shipped.variables["tracking_url"].startswith("http")
    assert reload(order).tracking_url == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"carrier": "", "tracking_number": "X1"}, "Enter the carrier, e.g. DHL."),
        ({"carrier": "DHL", "tracking_number": "  "}, "Enter the tracking number."),
        (
            {"carrier": "DHL", "tracking_number": "X1", "tracking_url": "http://dhl.com/t"},
            "full https:// address",
        ),
        (
            {"carrier": "DHL", "tracking_number": "X1", "tracking_url": "javascript:alert(1)"},
            "full https:// address",
        ),
        ({"carrier": "D" * 65, "tracking_number": "X1"}, "Field cannot be longer than 64"),
    ],
)
def test_bad_shipping_details_are_shown_with_the_form_kept(client, db, data, message):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    post(client, f"{page}/process", page=page)
    response = post(client, f"{page}/ship", data, page=page)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'aria-invalid="true"' in html
    if data["tracking_number"].strip():
        assert f'value="{data["tracking_number"]}"' in html  # nothing typed is lost
    assert reload(order).status == OrderStatus.PROCESSING
    assert mails("order-shipped") == []


def test_transitions_off_the_table_are_refused_with_a_clear_message(client, db):
    order = paid_order()
    waiting = unpaid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    # Paid, not yet processing: cannot be delivered.
    response = post(client, f"{page}/deliver", page=page)
    assert response.status_code == 409
    assert "cannot go from Paid to Delivered" in response.get_data(as_text=True)
    # An unpaid order can never be shipped.
    response = post(
        client,
        f"/admin/orders/{waiting.id}/ship",
        {"carrier": "DHL", "tracking_number": "X1"},
        page=page,
    )
    assert response.status_code == 409
    assert "cannot go from Awaiting payment to Shipped" in response.get_data(as_text=True)
    # Shipping twice (a double click) sends one email.
    post(client, f"{page}/process", page=page)
    data = {"carrier": "DHL", "tracking_number": "X1"}
    assert post(client, f"{page}/ship", data, page=page).status_code == 303
    assert post(client, f"{page}/ship", data, page=page).status_code == 409
    assert len(mails("order-shipped")) == 1
    assert reload(waiting).status == OrderStatus.PENDING_PAYMENT


# -- notes -------------------------------------------------------------------------------------


def test_staff_notes_are_appended_to_the_timeline_with_author(client, db):
    order = paid_order()
    commit_unit_of_work()
    staff = sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    body = "Customer called: <script>alert(1)</script> leave at the door"
    assert post(client, f"{page}/notes", {"body": body}, page=page).status_code == 303
    post(client, f"{page}/notes", {"body": "Second note"}, page=page)
    order = reload(order)
    assert [n.body for n in order.notes] == [body, "Second note"]
    assert order.notes[0].author_id == staff.id
    html = client.get(page).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert html.index("Customer called") < html.index("Second note")
    assert staff.email in html
    assert len(audits("orders.note")) == 2


def test_empty_or_huge_notes_are_refused(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    assert post(client, f"{page}/notes", {"body": "   "}, page=page).status_code == 422
    response = post(client, f"{page}/notes", {"body": "x" * 2001}, page=page)
    assert response.status_code == 422
    assert "x" * 2001 in response.get_data(as_text=True)  # kept for editing
    assert reload(order).notes == []


# -- cancellation ------------------------------------------------------------------------------


def test_cancelling_a_paid_order_restocks_and_refunds_it(client, db):
    order = paid_order((("Merino Jumper", 2500, 2),), stock=10)
    variant_id = order.lines[0].variant_id
    commit_unit_of_work()
    sign_in_staff(client, "admin")  # a paid cancel refunds: refunds.issue
    page = f"/admin/orders/{order.id}"
    response = post(client, f"{page}/cancel", {"reason": "customer asked"}, page=page)
    assert response.status_code == 303
    order = reload(order)
    assert db.session.get(Variant, variant_id).stock_on_hand == 10
    [refund] = order.refunds
    assert (refund.kind, refund.amount, refund.status) == ("cancel", 5000, "succeeded")
    assert order.payments[0].amount_refunded == 5000
    # Cancelled, then refunded in full once the provider confirmed.
    assert [e.to_status for e in order.events][-2:] == ["cancelled", "refunded"]
    [mail] = mails("order-cancelled")
    assert mail.variables["refund_total"] == 5000
    assert mails("refund-issued") == []  # the cancellation email already says it
    assert audits("orders.cancel")
    # Nothing more to refund, nothing more to restock.
    assert post(client, f"{page}/cancel", page=page).status_code == 409
    assert db.session.get(Variant, variant_id).stock_on_hand == 10


def test_cancelling_an_unpaid_order_releases_its_reservation(client, db):
    order = unpaid_order()
    variant_id = order.lines[0].variant_id
    assert db.session.get(Variant, variant_id).reserved == 1
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    page = f"/admin/orders/{order.id}"
    assert post(client, f"{page}/cancel", page=page).status_code == 303
    order = reload(order)
    assert order.status == OrderStatus.CANCELLED and order.refunds == []
    variant = db.session.get(Variant, variant_id)
    assert (variant.stock_on_hand, variant.reserved) == (5, 0)


def test_shipped_orders_cannot_be_cancelled(client, db):
    order = paid_order()
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    page = f"/admin/orders/{order.id}"
    post(client, f"{page}/process", page=page)
    post(client, f"{page}/ship", {"carrier": "DHL", "tracking_number": "X1"}, page=page)
    assert "Cancel order" not in client.get(page).get_data(as_text=True)
    response = post(client, f"{page}/cancel", page=page)
    assert response.status_code == 409
    assert "cannot go from Shipped to Cancelled" in response.get_data(as_text=True)
    returns = db.session.execute(
        sa.select(sa.func.count()).where(StockMovement.reason == "return")
    ).scalar()
    assert returns == 0 and reload(order).refunds == []

"""Admin → Promotions, as staff use it: create, edit, pause, duplicate, codes one by one and
in bulk, the report and the CSV downloads; every change audited; customers kept out."""

import csv
import io

import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work
from app.extensions import db
from app.promotions.models import Promotion, VoucherCode
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories
from tests.promotions.helpers import promotion

NEW = {
    "name": "Welcome 10 %",
    "requires_code": "code",
    "code": "welcome10",
    "benefit": "percent",
    "percent": "10",
    "amount": "",
    "scope": "order",
    "product_skus": "",
    "min_subtotal": "",
    "starts_at": "",
    "ends_at": "",
    "usage_limit": "",
    "per_customer_limit": "1",
}


def post(client, path, data, page=None):
    return client.post(path, data={**data, "csrf_token": csrf(client, page or path)})


def audits(prefix="promotion."):
    return (
        db.session.execute(
            sa.select(AuditEvent.action)
            .where(AuditEvent.action.like(f"{prefix}%"))
            .order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )


def test_staff_create_a_code_and_see_it_listed(client, db):
    sign_in_staff(client)
    response = post(client, "/admin/promotions/new", NEW)
    assert response.status_code == 303
    made = db.session.execute(sa.select(Promotion)).scalar_one()
    assert (made.name, made.benefit, made.value, made.per_customer_limit) == (
        "Welcome 10 %",
        "percent",
        10,
        1,
    )
    assert [c.code for c in made.codes] == ["WELCOME10"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Created the promotion Welcome 10 %." in page and "10 % off the order" in page
    listing = client.get("/admin/promotions").get_data(as_text=True)
    assert "<code>WELCOME10</code>" in listing and "Active" in listing
    assert audits() == ["promotion.created"]


def test_mistakes_are_shown_on_their_fields(client, db):
    sign_in_staff(client)
    factories.product("Mug", price=1000)
    commit_unit_of_work()
    cases = [
        ({"percent": "120"}, "A percentage is a whole number from 1 to 100."),
        ({"percent": "1e999999"}, "Enter a whole number, like 10."),
        ({"code": ""}, "Enter the code shoppers type"),
        ({"code": "WELCOME 10%"}, "A code is 1 to 40 letters, digits, hyphens or underscores."),
        ({"benefit": "amount", "amount": "12.345"}, "Use at most 2 decimal places"),
        ({"scope": "items"}, "Choose the categories or products it covers"),
        ({"scope": "items", "product_skus": "NOPE-1"}, "No product has the SKU NOPE-1."),
        (
            {"starts_at": "2026-12-10T10:00", "ends_at": "2026-12-09T10:00"},
            "The end must be after the start.",
        ),
        ({"starts_at": "99999-01-01T00:00"}, "Not a valid datetime value."),
        ({"starts_at": "0001-01-01T00:00"}, "Enter a date between 2000 and 2100."),
        ({"ends_at": "9999-12-31T23:59"}, "Enter a date between 2000 and 2100."),
        (
            {"scope": "items", "product_skus": ",".join(f"S{i}" for i in range(201))},
            "Choose at most 200 products by SKU",
        ),
        ({"usage_limit": "99999999999999999999"}, "Enter a whole number, like 10."),
        (
            {"requires_code": "automatic", "usage_limit": "5"},
            "Limits are for promotions with a code",
        ),
    ]
    for change, message in cases:
        response = post(client, "/admin/promotions/new", {**NEW, **change})
        assert response.status_code == 422, change
        assert message in response.get_data(as_text=True), change
    assert db.session.execute(sa.select(sa.func.count()).select_from(Promotion)).scalar() == 0
    post(client, "/admin/promotions/new", NEW)
    taken = post(client, "/admin/promotions/new", {**NEW, "name": "Again"})
    assert "The code WELCOME10 is taken; choose another." in taken.get_data(as_text=True)


def test_edit_pause_resume_and_duplicate(client, db):
    sign_in_staff(client)
    made = promotion()
    commit_unit_of_work()
    path = f"/admin/promotions/{made.id}"
    edited = post(client, path, {**NEW, "percent": "15", "name": "Welcome 15 %"})
    assert edited.status_code == 303
    db.session.expire_all()
    assert (made.name, made.value) == ("Welcome 15 %", 15)
    post(client, f"{path}/pause", {}, page=path)
    db.session.expire_all()
    assert made.paused is True
    assert "Paused" in client.get("/admin/promotions").get_data(as_text=True)
    post(client, f"{path}/resume", {}, page=path)
    copy = post(client, f"{path}/duplicate", {}, page=path)
    page = client.get(copy.headers["Location"]).get_data(as_text=True)
    assert "Created Copy of Welcome 15 %, paused. Add a code, then resume it." in page
    clone = db.session.execute(sa.select(Promotion).order_by(Promotion.id.desc())).scalars().first()
    assert (clone.value, clone.paused, clone.codes, clone.uses) == (15, True, [], 0)
    assert audits() == [
        "promotion.created",
        "promotion.updated",
        "promotion.paused",
        "promotion.resumed",
        "promotion.duplicated",
    ]


def test_bulk_codes_are_unique_single_use_and_downloadable(client, db):
    sign_in_staff(client)
    made = promotion("Spring", code="SPRING")
    commit_unit_of_work()
    path = f"/admin/promotions/{made.id}"
    response = post(
        client,
        f"{path}/codes/generate",
        {"generate-count": "250", "generate-prefix": "spring"},
        page=path,
    )
    assert response.status_code == 303
    codes = (
        db.session.execute(
            sa.select(VoucherCode).where(
                VoucherCode.promotion_id == made.id, VoucherCode.code != "SPRING"
            )
        )
        .scalars()
        .all()
    )
    assert len({c.code for c in codes}) == 250
    assert all(c.code.startswith("SPRING-") and len(c.code) == 15 for c in codes)
    assert {c.usage_limit for c in codes} == {1}
    too_many = post(client, f"{path}/codes/generate", {"generate-count": "5000"}, page=path)
    assert "Generate 1 to 1000 codes at a time." in too_many.get_data(as_text=True)
    download = client.get(f"{path}/codes.csv")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["code", "usage_limit", "uses", "created_at"] and len(rows) == 252
    assert download.headers["Cache-Control"] == "no-store"
    from tests.admin.test_exports import read_xlsx

    sheet = read_xlsx(client.get(f"{path}/codes.xlsx"))
    assert sheet[0] == rows[0] and [r[0] for r in sheet[1:]] == [r[0] for r in rows[1:]]
    assert "promotion.codes_generated" in audits()
    assert "exports.promotion-" in " ".join(audits("exports."))


def test_the_usage_report_counts_paid_orders_revenue_and_discount(client, db):
    from tests.promotions.test_refunds import discounted_order

    promotion()
    order = discounted_order(client, code="WELCOME10", lines=((3000, 2),))
    assert order.total == 5400
    staff = client.application.test_client()
    sign_in_staff(staff)
    listing = staff.get("/admin/promotions").get_data(as_text=True)
    assert "€54.00" in listing and "€6.00" in listing
    report = staff.get("/admin/promotions/report.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [(r["name"], r["paid_orders"], r["revenue"], r["discount_given"]) for r in rows] == [
        ("Welcome 10 %", "1", "54.00", "6.00")
    ]
    from tests.admin.test_exports import read_xlsx

    header, row = read_xlsx(staff.get("/admin/promotions/report.xlsx"))
    excel = dict(zip(header, row, strict=True))
    assert (excel["name"], excel["paid_orders"], excel["revenue"]) == ("Welcome 10 %", 1, 54)
    detail = staff.get(f"/admin/promotions/{rows[0]['id']}").get_data(as_text=True)
    assert order.number in detail and "Paid" in detail
    order_page = staff.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert "Discount: " in order_page and "<code>WELCOME10</code>" in order_page


def test_customers_cannot_reach_promotions(client, db):
    make_user()
    commit_unit_of_work()
    login(client)
    assert client.get("/admin/promotions").status_code == 404
    assert client.get("/admin/promotions/report.csv").status_code == 404


def test_a_refused_code_keeps_the_edit_form_as_saved(client, db):
    """The page has three forms; a mistake in one never rewrites another's fields."""
    sign_in_staff(client)
    shirts = factories.category("Shirts")
    made = promotion(
        "Shirts",
        code="SHIRTS",
        benefit="amount",
        value=500,
        scope="items",
        category_ids=[shirts.id],
        per_customer_limit=1,
        usage_limit=100,
    )
    commit_unit_of_work()
    path = f"/admin/promotions/{made.id}"
    html = client.get(path).get_data(as_text=True)
    assert html.count('id="usage_limit"') == 1 and 'id="code-usage_limit"' in html
    refused = post(
        client, f"{path}/codes", {"code-code": "bad code!!", "code-usage_limit": "3"}, page=path
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "A code is 1 to 40 letters, digits, hyphens or underscores." in page
    assert f'<option selected value="{shirts.id}">' in page
    assert 'id="per_customer_limit" name="per_customer_limit" type="number" value="1"' in page
    assert 'id="usage_limit" name="usage_limit" type="number" value="100"' in page

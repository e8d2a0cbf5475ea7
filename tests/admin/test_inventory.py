"""Staff inventory: adjustments with a reason, never below zero, the ledger, thresholds."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.catalog.models import Product, StockMovement, Variant
from app.db import commit_unit_of_work, unit_of_work
from app.extensions import db as _db
from app.inventory.services import InsufficientStock, set_stock_count
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories
from tests.concurrency import run_at_once


@pytest.fixture
def staff(client, db):
    sign_in_staff(client, "staff")
    return client


@pytest.fixture
def lamp(db):
    product = factories.product("Brass Lamp", stock=10)
    commit_unit_of_work()
    return product.variants[0]


def adjust(client, variant, **fields):
    path = f"/admin/inventory/{variant.id}"
    data = {"csrf_token": csrf(client, path), "note": ""}
    data.update(fields)
    return client.post(path, data=data)


def stock(db, variant) -> tuple[int, int]:
    db.session.expire_all()
    v = db.session.get(Variant, variant.id)
    return v.stock_on_hand, v.reserved


def movements(db, variant) -> list[tuple[str, int, str]]:
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(StockMovement.reason, StockMovement.on_hand_delta, StockMovement.note)
            .where(StockMovement.variant_id == variant.id)
            .order_by(StockMovement.id)
        )
    ]


def test_anonymous_and_customers_get_404(client, db, lamp):
    pages = ["/admin/inventory", f"/admin/inventory/{lamp.id}"]
    for path in pages:
        assert client.get(path).status_code == 404
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    token = csrf(client, "/")
    for path in pages:
        assert client.get(path).status_code == 404
    for path in [f"/admin/inventory/{lamp.id}", f"/admin/inventory/{lamp.id}/threshold"]:
        data = {"csrf_token": token, "reason": "receipt", "change": "5", "threshold": "1"}
        assert client.post(path, data=data).status_code == 404
    assert stock(db, lamp) == (10, 0)


def test_posts_without_csrf_are_refused(staff, db, lamp):
    path = f"/admin/inventory/{lamp.id}"
    assert staff.post(path, data={"reason": "receipt", "change": "5"}).status_code == 400
    assert staff.post(path + "/threshold", data={"threshold": "1"}).status_code == 400
    assert stock(db, lamp) == (10, 0)


@pytest.mark.parametrize(
    "path", ["/admin/inventory/99999999999", "/admin/inventory/2147483648", "/admin/inventory/777"]
)
def test_unknown_and_huge_ids_are_404(staff, db, path):
    assert staff.get(path).status_code == 404
    token = csrf(staff, "/admin/inventory")
    assert staff.post(path + "/threshold", data={"csrf_token": token}).status_code == 404


def test_adjustments_with_each_reason_write_the_ledger_and_an_audit(staff, db, lamp):
    assert adjust(staff, lamp, reason="receipt", change="5", note="PO-77").status_code == 302
    assert stock(db, lamp) == (15, 0)
    assert adjust(staff, lamp, reason="damage", change="-2", note="dropped").status_code == 302
    assert adjust(staff, lamp, reason="count_correction", counted="11").status_code == 302
    assert stock(db, lamp) == (11, 0)
    assert (
        adjust(staff, lamp, reason="other", change="-1", note="sample for photos").status_code
        == 302
    )
    assert movements(db, lamp) == [
        ("initial", 10, ""),
        ("receipt", 5, "PO-77"),
        ("damage", -2, "dropped"),
        ("count_correction", -2, ""),
        ("other", -1, "sample for photos"),
    ]
    details = [
        e.detail
        for e in db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "stock.adjust").order_by(AuditEvent.id)
        ).scalars()
    ]
    assert details == [
        "receipt +5 -> 15 on hand; PO-77",
        "damage -2 -> 13 on hand; dropped",
        "count_correction -2 -> 11 on hand; ",
        "other -1 -> 10 on hand; sample for photos",
    ]
    html = staff.get(f"/admin/inventory/{lamp.id}").get_data(as_text=True)
    history = html[html.index("Stock movements") :]
    for text in ("Receipt (goods received)", "PO-77", "Damage", "Count correction", "+5", "-2"):
        assert text in history
    assert "Ada Lovelace" in history  # who did it


def test_a_count_matching_the_stock_changes_nothing(staff, db, lamp):
    response = adjust(staff, lamp, reason="count_correction", counted="10")
    assert response.status_code == 302
    assert movements(db, lamp) == [("initial", 10, "")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reason": "receipt", "change": "-3"}, "A receipt adds stock: enter a positive number."),
        ({"reason": "damage", "change": "3"}, "Damage removes stock: enter a negative number"),
        ({"reason": "other", "change": "3"}, "Say why the stock changes."),
        ({"reason": "receipt", "change": ""}, "Enter how many units change, like 10 or -2."),
        ({"reason": "receipt", "change": "ten"}, "Enter a whole number, like 10."),
        ({"reason": "receipt", "change": "9" * 5000}, "Enter a whole number, like 10."),
        ({"reason": "count_correction"}, "Enter the quantity you counted on the shelf."),
        ({"reason": "count_correction", "counted": "-1"}, "A count is between 0 and 1,000,000."),
        ({"reason": "theft", "change": "-1"}, "Not a valid choice"),
    ],
)
def test_bad_adjustments_are_form_errors(staff, db, lamp, fields, message):
    response = adjust(staff, lamp, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stock(db, lamp) == (10, 0)


def test_stock_never_goes_below_zero_or_below_reservations(staff, db, lamp):
    response = adjust(staff, lamp, reason="damage", change="-11")
    assert response.status_code == 422
    assert "Stock cannot go below zero: there are 10 on hand." in response.get_data(as_text=True)
    assert stock(db, lamp) == (10, 0)

    _db.session.execute(sa.update(Variant).where(Variant.id == lamp.id).values(reserved=4))
    commit_unit_of_work()
    response = adjust(staff, lamp, reason="damage", change="-7")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        "10 on hand, of which 4 are reserved for unpaid orders, so at most 6 can be removed" in html
    )
    response = adjust(staff, lamp, reason="count_correction", counted="3")
    assert response.status_code == 422
    assert "4 units are reserved for unpaid orders" in response.get_data(as_text=True)
    assert stock(db, lamp) == (10, 4)
    assert adjust(staff, lamp, reason="damage", change="-6").status_code == 302
    assert stock(db, lamp) == (4, 4)


def test_stock_changes_show_in_the_storefront_at_once(staff, db, lamp):
    product = _db.session.get(Product, lamp.product_id)
    assert "Out of stock" not in staff.get(f"/products/{product.slug}").get_data(as_text=True)
    adjust(staff, lamp, reason="count_correction", counted="0", note="empty shelf")
    assert "Out of stock" in staff.get(f"/products/{product.slug}").get_data(as_text=True)
    adjust(staff, lamp, reason="receipt", change="3")
    assert "Only 3 left" in staff.get(f"/products/{product.slug}").get_data(as_text=True)


def test_threshold_and_low_stock_filter(staff, db, lamp):
    plenty = factories.product("Plenty Mugs", stock=100).variants[0]
    commit_unit_of_work()
    html = staff.get("/admin/inventory?low=1").get_data(as_text=True)
    assert "Brass Lamp" not in html and "Plenty Mugs" not in html

    slug = db.session.get(Product, lamp.product_id).slug
    assert "Only 10 left" not in staff.get(f"/products/{slug}").get_data(as_text=True)  # cached
    token = csrf(staff, f"/admin/inventory/{lamp.id}")
    response = staff.post(
        f"/admin/inventory/{lamp.id}/threshold", data={"csrf_token": token, "threshold": "12"}
    )
    assert response.status_code == 302
    html = staff.get("/admin/inventory?low=1").get_data(as_text=True)
    assert "Brass Lamp" in html and "Plenty Mugs" not in html
    assert "Low" in html
    assert "Only 10 left" in staff.get(f"/products/{slug}").get_data(as_text=True)
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "stock.threshold")
    ).scalar_one()
    assert (event.target, event.detail) == (f"variant:{lamp.id}", "5 -> 12")

    for bad, message in [("-1", "between 0 and 1,000,000"), ("", "Enter a threshold")]:
        response = staff.post(
            f"/admin/inventory/{lamp.id}/threshold", data={"csrf_token": token, "threshold": bad}
        )
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert (
        staff.post(
            f"/admin/inventory/{lamp.id}/threshold", data={"csrf_token": token, "threshold": "0"}
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Variant, lamp.id).low_stock_threshold == 0
    assert db.session.get(Variant, plenty.id).low_stock_threshold == 5


def test_list_search_sort_and_htmx_partial(staff, db, lamp):
    factories.product(
        "Copper Kettle",
        stock=1,
        variants=[
            factories.VariantInput(sku="KET-9", price=900, options={"Colour": "Copper"}, stock=1)
        ],
    )
    commit_unit_of_work()
    html = staff.get("/admin/inventory?q=ket-9").get_data(as_text=True)
    assert "Copper Kettle" in html and "Brass Lamp" not in html
    html = staff.get("/admin/inventory?sort=available").get_data(as_text=True)
    assert html.index("Copper Kettle") < html.index("Brass Lamp")
    html = staff.get("/admin/inventory?sort=-available").get_data(as_text=True)
    assert html.index("Brass Lamp") < html.index("Copper Kettle")
    partial = staff.get(
        "/admin/inventory?q=lamp", headers={"HX-Request": "true", "HX-Target": "admin-results"}
    ).get_data(as_text=True)
    assert "Brass Lamp" in partial and "<html" not in partial
    assert staff.get("/admin/inventory?page=abc&sort=drop+table&per_page=9999").status_code == 200
    html = staff.get(f"/admin/inventory/{lamp.id}?page=99999999999").get_data(as_text=True)
    assert "Initial stock" in html


def test_set_stock_count_refuses_negative_counts(db, lamp):
    from app.catalog.services import CatalogError

    with pytest.raises(CatalogError):
        set_stock_count(lamp.id, -1)


def test_concurrent_adjustments_never_take_stock_below_zero(app):
    """Twelve staff members remove 3 units each from 10 at the same instant: three succeed."""
    with app.app_context(), unit_of_work():
        product = factories.product("Racing Lamps", stock=10)
        product_id, variant_id = product.id, product.variants[0].id

    def remove(index: int) -> str:
        from app.inventory.services import adjust_stock

        try:
            with unit_of_work():
                adjust_stock(variant_id, -3, reason="damage", note=f"worker {index}")
        except InsufficientStock:
            return "refused"
        return "done"

    def count(index: int) -> int:
        with unit_of_work():
            return set_stock_count(variant_id, 20 + index, note=f"count {index}")

    try:
        outcomes = run_at_once(app, 12, remove)
        with app.app_context():
            on_hand = _db.session.get(Variant, variant_id).stock_on_hand
            ledger = _db.session.execute(
                sa.select(sa.func.sum(StockMovement.on_hand_delta)).where(
                    StockMovement.variant_id == variant_id
                )
            ).scalar_one()
        assert sorted(outcomes) == ["done"] * 3 + ["refused"] * 9
        assert on_hand == 1 and ledger == 1

        # Concurrent counts: each delta is the real difference, so the ledger still adds up.
        results = run_at_once(app, 6, count)
        assert not [r for r in results if isinstance(r, BaseException)], results
        with app.app_context():
            on_hand = _db.session.get(Variant, variant_id).stock_on_hand
            ledger = _db.session.execute(
                sa.select(sa.func.sum(StockMovement.on_hand_delta)).where(
                    StockMovement.variant_id == variant_id
                )
            ).scalar_one()
        assert 20 <= on_hand <= 25 and ledger == on_hand
    finally:
        with app.app_context(), unit_of_work():
            _db.session.execute(
                sa.delete(StockMovement).where(StockMovement.variant_id == variant_id)
            )
            _db.session.execute(sa.delete(Product).where(Product.id == product_id))


def test_stock_adjust_is_its_own_permission(staff, db, lamp, monkeypatch):
    from app.accounts import permissions

    token = csrf(staff, f"/admin/inventory/{lamp.id}")
    staff_perms = permissions.ROLE_PERMISSIONS["staff"]
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, "staff", staff_perms - {"stock.adjust"})
    assert staff.get("/admin/inventory").status_code == 403
    response = staff.post(
        f"/admin/inventory/{lamp.id}",
        data={"csrf_token": token, "reason": "receipt", "change": "5"},
    )
    assert response.status_code == 403
    assert stock(db, lamp) == (10, 0)
    # Without catalog.edit the stock pages still work (and the product editor is not linked).
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, "staff", staff_perms - {"catalog.edit"})
    html = staff.get(f"/admin/inventory/{lamp.id}").get_data(as_text=True)
    assert "Adjust stock" in html and f"/admin/products/{lamp.product_id}" not in html

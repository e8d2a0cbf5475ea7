"""The website and the API are two doors to one checkout: the same cart and details give the
same order and the same Checkout Session, and neither door talks to the provider or commits."""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa

from app.db import commit_unit_of_work
from app.extensions import db as _db
from app.orders.models import Order
from app.payments.models import SandboxSession
from tests.api.helpers import TERMS, add_item, guest
from tests.catalog import factories
from tests.checkout.helpers import DETAILS, add_to_cart, submit_details, token

APP = Path(__file__).parents[2] / "app"
BILLING = {
    "full_name": "Lovelace Accounts Ltd",
    "line1": "1 Engine Row",
    "line2": "Floor 2",
    "city": "London",
    "region": "",
    "postal_code": "EC1A 1BB",
    "country": "GB",
    "phone": "",
}
SHIPPING = {
    "full_name": "Ada Lovelace",
    "line1": "12 Analytical Street",
    "line2": "",
    "city": "Dublin",
    "region": "",
    "postal_code": "D02 X285",
    "country": "IE",
    "phone": "",
}


def _order_fields(order: Order) -> dict:
    return {
        "email": order.email,
        "currency": order.currency,
        "amounts": (order.subtotal, order.shipping, order.tax, order.discount, order.total),
        "tax_inclusive": order.tax_inclusive,
        "shipping_method": order.shipping_method,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "status": order.status,
        "lines": [
            (
                ln.variant_id,
                ln.product_name,
                ln.sku,
                ln.unit_price,
                ln.quantity,
                ln.tax,
                ln.line_total,
            )
            for ln in order.lines
        ],
        "reserved_minutes": round(
            (order.reservation_expires_at - order.created_at).total_seconds() / 60
        ),
    }


def _session_fields(order: Order) -> dict:
    row = _db.session.execute(
        sa.select(SandboxSession).where(SandboxSession.client_reference_id == order.number)
    ).scalar_one()
    return {
        "line_items": row.line_items,
        "amount_total": row.amount_total,
        "currency": row.currency,
        "customer_email": row.customer_email,
        # In minutes: the two clocks read (creation, expiry) may straddle a second boundary.
        "lifetime_minutes": round((row.expires_at - row.created_at.timestamp()) / 60),
    }


def test_web_and_api_place_identical_orders_for_identical_carts(app, db):
    mug = factories.product("Stoneware Mug", price=1500, stock=10).variants[0]
    lamp = factories.product("Oak Lamp", price=12000, stock=10).variants[0]
    commit_unit_of_work()

    web = app.test_client()
    add_to_cart(web, mug.id, 2)
    add_to_cart(web, lamp.id, 1)
    form = {f"billing_{k}": v for k, v in BILLING.items()}
    assert submit_details(web, billing="different", **form).status_code == 303
    web.post(
        "/checkout/pay", data={"csrf_token": token(web, "/checkout/review"), "accept_terms": "y"}
    )

    api = app.test_client()
    cart = add_item(api, mug.id, 2).get_json()["cart_token"]
    add_item(api, lamp.id, 1, guest(cart))
    body = {
        "email": DETAILS["email"],
        "shipping_address": {k: v for k, v in SHIPPING.items() if v},
        "billing_same_as_shipping": False,
        "billing_address": {k: v for k, v in BILLING.items() if v},
        "shipping_method": "standard",
    }
    assert api.put("/api/v1/checkout/details", json=body, headers=guest(cart)).status_code == 200
    assert api.post("/api/v1/checkout/session", json=TERMS, headers=guest(cart)).status_code == 201

    _db.session.expire_all()
    from_web, from_api = _db.session.execute(sa.select(Order).order_by(Order.id)).scalars().all()
    assert from_web.number != from_api.number
    assert _order_fields(from_web) == _order_fields(from_api)
    assert from_web.billing_address == {**BILLING, "postal_code": "EC1A 1BB"}
    assert _session_fields(from_web) == _session_fields(from_api)


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else ""
                names.append(f"{owner}.{func.attr}")
    return names


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def test_no_view_or_api_module_calls_the_provider_or_commits():
    doors = [
        *APP.glob("*/views.py"),
        *APP.glob("*/*_views.py"),
        *APP.glob("api/*.py"),
        *APP.glob("admin/*.py"),
    ]
    assert len(doors) > 30
    committing = {"commit_unit_of_work", "commit_point", "write_phase", ".commit", "session.commit"}
    provider_calls = (
        "provider.",
        "create_checkout_session",
        "retrieve_checkout_session",
        "expire_checkout_session",
        "create_refund",
    )
    offenders = []
    for path in doors:
        tree = ast.parse(path.read_text())
        for call in _calls(tree):
            if call in committing or call.endswith(".commit") or call.startswith(provider_calls):
                offenders.append(f"{path.relative_to(APP)}: {call}()")
        for name in _imports(tree):
            if name in ("app.payments.provider", "app.payments.provider.create_checkout_session"):
                offenders.append(f"{path.relative_to(APP)}: imports {name}")
            if name.startswith("app.db.") and name.rsplit(".", 1)[1] in committing:
                offenders.append(f"{path.relative_to(APP)}: imports {name}")
    assert offenders == []

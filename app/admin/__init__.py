"""Staff area at /admin. Every view names the permission it needs (see accounts.permissions):
customers and anonymous visitors get 404, staff without two-factor are sent to enrol.

Each area lives in its own module; all of them render into templates/admin/base.html, whose
navigation is ``NAV`` below (an entry shows when its view exists and the user may use it).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask_login import current_user

from app.accounts.permissions import has_permission

bp = Blueprint("admin", __name__, url_prefix="/admin")

# (label, endpoint, permission)
NAV: list[tuple[str, str, str]] = [
    ("Dashboard", "admin.dashboard", "orders.view"),
    ("Orders", "admin.orders", "orders.view"),
    ("Returns", "admin.returns", "orders.view"),
    ("Payments", "admin.payment_figures", "orders.view"),
    ("Products", "admin.products", "catalog.edit"),
    ("Categories", "admin.categories", "catalog.edit"),
    ("Inventory", "admin.inventory", "stock.adjust"),
    ("Import and export", "admin.imports", "catalog.edit"),
    ("Search synonyms", "admin.search_synonyms", "catalog.edit"),
    ("Promotions", "admin.promotions", "promotions.manage"),
    ("Reviews", "admin.reviews", "catalog.edit"),
    ("Customers", "admin.customers", "customers.view"),
    ("Notifications", "admin.notifications", "notifications.manage"),
    ("Campaigns", "admin.campaigns_list", "notifications.manage"),
    ("Webhook events", "admin.webhook_events", "orders.manage"),
    ("Audit log", "admin.audit_log", "audit.view"),
    ("Settings", "admin.settings", "settings.edit"),
]


@bp.app_context_processor
def admin_helpers() -> dict[str, Any]:
    def can(permission: str) -> bool:
        return has_permission(current_user, permission)

    def admin_nav() -> list[tuple[str, str]]:
        known = current_app.view_functions
        return [
            (label, endpoint)
            for label, endpoint, permission in NAV
            if endpoint in known and can(permission)
        ]

    return {"can": can, "admin_nav": admin_nav}


from app.admin import (  # noqa: E402,F401
    catalog,
    orders,
    payments,
    people,
    promotions,
    returns,
    reviews,
    settings,
    views,
)

"""Roles and named permissions, and the one decorator that checks them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, redirect, url_for
from flask_login import current_user

from app.accounts.models import Role

PERMISSIONS = {
    "catalog.edit",
    "stock.adjust",
    "orders.view",
    "orders.manage",
    "refunds.issue",
    "customers.view",
    "users.manage",
    "notifications.manage",
    "settings.edit",
    "audit.view",
    "promotions.manage",
}
ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.CUSTOMER: set(),
    Role.STAFF: {
        "catalog.edit",
        "stock.adjust",
        "orders.view",
        "orders.manage",
        "customers.view",
        "notifications.manage",
        "promotions.manage",
    },
    Role.ADMIN: set(PERMISSIONS),
}


def has_permission(user: Any, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, set())


def permission_required(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Staff views: 404 for anyone who is not staff (no hint the page exists), then TOTP
    enrolment before anything else, then the named permission (403)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or not current_user.is_staff:
                abort(404)
            if not current_user.totp_enabled:  # the setup page says why, once
                return redirect(url_for("accounts.two_factor_setup"))
            session_row = current_user.current_session
            if session_row is None or session_row.second_factor_at is None:
                return redirect(url_for("accounts.login"))
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator

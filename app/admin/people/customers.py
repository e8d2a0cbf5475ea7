"""Customers: list and search, a person's page (orders, addresses, audit trail), and the
account actions staff take for them (role, unlock, deactivate, two-factor reset, anonymise)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import AuditEvent, LoginThrottle, Role, User
from app.accounts.permissions import has_permission, permission_required
from app.accounts.services import (
    AccountError,
    anonymise_on_request,
    change_role,
    deactivate_account,
    normalise_email,
    reactivate_account,
    reset_two_factor,
    unlock_account,
)
from app.accounts.sessions import list_active_sessions
from app.accounts.totp import remaining_recovery_codes
from app.admin import bp
from app.admin.listing import paginate, render_listing, str_arg
from app.admin.people.common import INVALID, like_pattern, me_id
from app.core.forms import SelectField
from app.db import utcnow
from app.extensions import db
from app.orders.models import Order

STATUSES = {
    "active": "Active",
    "deactivated": "Deactivated",
    "locked": "Locked out",
    "unverified": "Email not confirmed",
    "deleted": "Deleted (anonymised)",
}
ROLE_LABELS = {Role.CUSTOMER: "Customer", Role.STAFF: "Staff", Role.ADMIN: "Admin"}
ORDERS_SHOWN = 20
EVENTS_SHOWN = 25


class RoleForm(FlaskForm):
    role = SelectField(
        "Role", choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()]
    )


class AnonymiseForm(FlaskForm):
    confirm_email = StringField(
        "Type the customer's email address to confirm",
        validators=[DataRequired("Type the customer's email address."), Length(max=320)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


@bp.get("/customers")
@permission_required("customers.view")
def customers() -> str:
    now = utcnow()
    locked = sa.and_(LoginThrottle.locked_until.is_not(None), LoginThrottle.locked_until > now)
    order_count = (
        sa.select(sa.func.count(Order.id)).where(Order.user_id == User.id).scalar_subquery()
    )
    stmt = sa.select(User, LoginThrottle.locked_until, order_count.label("orders")).outerjoin(
        LoginThrottle, LoginThrottle.email == User.email
    )
    q = str_arg("q", limit=120)
    role = str_arg("role", choices=list(ROLE_LABELS))
    status = str_arg("status", choices=list(STATUSES))
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            sa.or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    if role:
        stmt = stmt.where(User.role == role)
    if status == "active":
        stmt = stmt.where(User.is_active_account.is_(True), User.deleted_at.is_(None))
    elif status == "deactivated":
        stmt = stmt.where(User.is_active_account.is_(False), User.deleted_at.is_(None))
    elif status == "deleted":
        stmt = stmt.where(User.deleted_at.is_not(None))
    elif status == "locked":
        stmt = stmt.where(locked)
    elif status == "unverified":
        stmt = stmt.where(User.email_verified_at.is_(None), User.deleted_at.is_(None))
    page = paginate(
        stmt,
        sorts={
            "created": User.created_at,
            "email": User.email,
            "name": User.name,
            "role": User.role,
        },
        default="-created",
        scalars=False,
        tiebreak=User.id,
    )
    return render_listing(
        "admin/customers/list.html",
        "admin/customers/_table.html",
        page=page,
        q=q,
        role=role,
        status=status,
        statuses=STATUSES,
        roles=ROLE_LABELS,
        now=now,
    )


def _order_href() -> Callable[[Order], str | None]:
    """Links to the staff order page, for those who may open it."""
    if "admin.orders_detail" not in current_app.view_functions or not has_permission(
        current_user, "orders.view"
    ):
        return lambda order: None
    return lambda order: url_for("admin.orders_detail", order_id=order.id)


def _detail_page(
    user: User,
    *,
    status: int = 200,
    role_form: RoleForm | None = None,
    anonymise_form: AnonymiseForm | None = None,
    error: str = "",
) -> tuple[str, int]:
    throttle = db.session.execute(
        sa.select(LoginThrottle).where(LoginThrottle.email == user.email)
    ).scalar_one_or_none()
    now = utcnow()
    locked_until = (
        throttle.locked_until
        if throttle and throttle.locked_until and throttle.locked_until > now
        else None
    )
    orders = list(
        db.session.execute(
            sa.select(Order)
            .where(Order.user_id == user.id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(ORDERS_SHOWN)
        ).scalars()
    )
    order_total = db.session.execute(
        sa.select(sa.func.count(Order.id)).where(Order.user_id == user.id)
    ).scalar_one()
    events = list(
        db.session.execute(
            sa.select(AuditEvent)
            .where(AuditEvent.target_user_id == user.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(EVENTS_SHOWN)
        ).scalars()
    )
    actor_ids = {e.actor_id for e in events if e.actor_id}
    actors = (
        dict(db.session.execute(sa.select(User.id, User.email).where(User.id.in_(actor_ids))).all())
        if actor_ids
        else {}
    )
    if role_form is None:
        role_form = RoleForm(formdata=None, role=user.role)
    context: dict[str, Any] = {
        "customer": user,
        "locked_until": locked_until,
        "failures": throttle.failures if throttle else 0,
        "sessions": list_active_sessions(user.id),
        "recovery_codes": remaining_recovery_codes(user.id) if user.totp_enabled else 0,
        "orders": orders,
        "order_total": order_total,
        "order_href": _order_href(),
        "events": events,
        "actors": actors,
        "role_form": role_form,
        "anonymise_form": anonymise_form or AnonymiseForm(formdata=None),
        "roles": ROLE_LABELS,
        "is_me": user.id == me_id(),
        "error": error,
    }
    return render_template("admin/customers/detail.html", **context), status


@bp.get("/customers/<int:user_id>")
@permission_required("customers.view")
def customers_detail(user_id: int) -> tuple[str, int]:
    return _detail_page(db.get_or_404(User, user_id))


def _done(user: User, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("admin.customers_detail", user_id=user.id))


@bp.post("/customers/<int:user_id>/role")
@permission_required("users.manage")
def customers_role(user_id: int) -> Response | tuple[str, int]:
    user = db.get_or_404(User, user_id)
    form = RoleForm()
    if not form.validate():
        return _detail_page(user, status=INVALID, role_form=form)
    try:
        changed = change_role(user, form.role.data or "", actor_id=me_id())
    except AccountError as exc:  # a rule, not the input: shown above the page
        return _detail_page(user, status=INVALID, error=str(exc))
    if not changed:
        return _done(user, f"{user.email} already has the role {ROLE_LABELS[Role(user.role)]}.")
    return _done(
        user,
        f"{user.email} is now {ROLE_LABELS[Role(user.role)]}. They were signed out everywhere "
        "and sign in again with their new permissions.",
    )


def _account_action(user_id: int, action: Callable[[User], str]) -> Response | tuple[str, int]:
    user = db.get_or_404(User, user_id)
    try:
        message = action(user)
    except AccountError as exc:
        return _detail_page(user, status=INVALID, error=str(exc))
    return _done(user, message)


@bp.post("/customers/<int:user_id>/unlock")
@permission_required("users.manage")
def customers_unlock(user_id: int) -> Response | tuple[str, int]:
    def unlock(user: User) -> str:
        unlock_account(user, actor_id=me_id())
        return f"{user.email} can sign in again straight away."

    return _account_action(user_id, unlock)


@bp.post("/customers/<int:user_id>/deactivate")
@permission_required("users.manage")
def customers_deactivate(user_id: int) -> Response | tuple[str, int]:
    def deactivate(user: User) -> str:
        if not deactivate_account(user, actor_id=me_id()):
            return f"{user.email} was already deactivated."
        return f"{user.email} is deactivated and was signed out everywhere, apps included."

    return _account_action(user_id, deactivate)


@bp.post("/customers/<int:user_id>/reactivate")
@permission_required("users.manage")
def customers_reactivate(user_id: int) -> Response | tuple[str, int]:
    def reactivate(user: User) -> str:
        if not reactivate_account(user, actor_id=me_id()):
            return f"{user.email} was already active."
        return f"{user.email} can sign in again."

    return _account_action(user_id, reactivate)


@bp.post("/customers/<int:user_id>/two-factor-reset")
@permission_required("users.manage")
def customers_reset_two_factor(user_id: int) -> Response | tuple[str, int]:
    def reset(user: User) -> str:
        reset_two_factor(user, actor_id=me_id())
        again = " They must set it up again at their next sign-in." if user.is_staff else ""
        return (
            f"Two-factor authentication is off for {user.email} and they were signed out "
            f"everywhere.{again}"
        )

    return _account_action(user_id, reset)


@bp.post("/customers/<int:user_id>/anonymise")
@permission_required("users.manage")
def customers_anonymise(user_id: int) -> Response | tuple[str, int]:
    user = db.get_or_404(User, user_id)
    form = AnonymiseForm()
    if not form.validate():
        return _detail_page(user, status=INVALID, anonymise_form=form)
    if normalise_email(form.confirm_email.data or "") != user.email:
        form.confirm_email.errors = [
            "That is not this customer's email address. Type it exactly to confirm."
        ]
        return _detail_page(user, status=INVALID, anonymise_form=form)
    email = user.email
    try:
        anonymise_on_request(user, actor_id=me_id())
    except AccountError as exc:
        return _detail_page(user, status=INVALID, error=str(exc))
    return _done(
        user,
        f"The account of {email} is anonymised: personal details, addresses and sign-ins are "
        "gone; their orders are kept.",
    )

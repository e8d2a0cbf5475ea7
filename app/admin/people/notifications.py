"""The notifications outbox for staff: filter, read a message as it would be sent, and put
dead letters back in the queue one by one or in bulk.

Messages are never stored rendered; a message is rendered from its template and stored
variables when it is viewed. Private links in them (password reset, email confirmation, a
guest's order link) are hidden first, so reading the outbox never hands staff a way into
someone's account.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, render_listing, str_arg
from app.admin.people.common import me_id, sandboxed_html, selected_ids
from app.extensions import db
from app.notifications import delivery
from app.notifications.channels import Message
from app.notifications.models import Channel, Notification, Status
from app.notifications.rendering import TemplateError, render, template_names
from app.notifications.services import retry_dead

HIDDEN_LINK = "[private link hidden from staff]"
PRIVATE_VARIABLES = frozenset({"reset_url", "verify_url", "order_url"})
PRIVATE_WORDS = ("token", "secret", "password")
BULK_LIMIT = 1000
FILTERS = ("status", "channel", "template")


def _private(key: str) -> bool:
    key = key.lower()
    return key in PRIVATE_VARIABLES or any(word in key for word in PRIVATE_WORDS)


def redacted_variables(variables: dict[str, Any] | None) -> dict[str, Any]:
    return {k: HIDDEN_LINK if _private(k) else v for k, v in (variables or {}).items()}


def render_for_staff(notification: Notification) -> Message:
    """Render an unsaved copy with private values hidden (the row itself is never touched)."""
    copy = Notification(
        id=notification.id,
        user_id=notification.user_id,
        to_address=notification.to_address,
        channel=notification.channel,
        template=notification.template,
        variables=redacted_variables(notification.variables),
        category=notification.category,
    )
    return render(copy)


def _filters() -> dict[str, str]:
    return {
        "status": str_arg("status", choices=list(Status)),
        "channel": str_arg("channel", choices=list(Channel)),
        "template": str_arg("template", limit=64, choices=template_names()),
    }


def _filtered(stmt: sa.Select[Any], filters: dict[str, str]) -> sa.Select[Any]:
    if filters.get("status"):
        stmt = stmt.where(Notification.status == filters["status"])
    if filters.get("channel"):
        stmt = stmt.where(Notification.channel == filters["channel"])
    if filters.get("template"):
        stmt = stmt.where(Notification.template == filters["template"])
    return stmt


@bp.get("/notifications")
@permission_required("notifications.manage")
def notifications() -> str:
    filters = _filters()
    page = paginate(
        _filtered(sa.select(Notification), filters),
        sorts={
            "created": Notification.created_at,
            "updated": Notification.updated_at,
            "attempts": Notification.attempts,
            "status": Notification.status,
        },
        default="-created",
        tiebreak=Notification.id,
    )
    dead_total = db.session.execute(
        _filtered(sa.select(sa.func.count(Notification.id)), {**filters, "status": Status.DEAD})
    ).scalar_one()
    return render_listing(
        "admin/notifications/list.html",
        "admin/notifications/_table.html",
        page=page,
        filters=filters,
        statuses=list(Status),
        channels=list(Channel),
        templates=template_names(),
        dead_total=dead_total,
    )


@bp.get("/notifications/delivery")
@permission_required("notifications.manage")
def notifications_delivery() -> str:
    """E-mail delivery per template (and per campaign): what the provider reported back."""
    return render_template(
        "admin/notifications/delivery.html",
        by_template=delivery.rates(Notification.template),
        events=delivery.RATE_EVENTS,
        webhook_configured=bool(current_app.config.get("BREVO_WEBHOOK_TOKEN")),
    )


@bp.get("/notifications/<int:notification_id>")
@permission_required("notifications.manage")
def notifications_detail(notification_id: int) -> tuple[str, int]:
    return _detail_page(db.get_or_404(Notification, notification_id))


def _detail_page(
    notification: Notification, *, status: int = 200, error: str = ""
) -> tuple[str, int]:
    message, render_error = None, ""
    try:
        message = render_for_staff(notification)
    except TemplateError as exc:
        render_error = str(exc)
    return (
        render_template(
            "admin/notifications/detail.html",
            notification=notification,
            message=message,
            render_error=render_error,
            variables=json.dumps(
                redacted_variables(notification.variables), indent=2, sort_keys=True, default=str
            ),
            error=error,
        ),
        status,
    )


@bp.get("/notifications/<int:notification_id>/html")
@permission_required("notifications.manage")
def notifications_html(notification_id: int) -> Response:
    """The HTML part alone, for the preview frame: a CSP sandbox (no scripts, forms, plugins
    or same-origin access) and inline styles only, framable only by our own pages."""
    notification = db.get_or_404(Notification, notification_id)
    try:
        html = render_for_staff(notification).html
    except TemplateError:
        abort(404)
    if not html:
        abort(404)
    return sandboxed_html(html)


@bp.post("/notifications/<int:notification_id>/retry")
@permission_required("notifications.manage")
def notifications_retry(notification_id: int) -> Response | tuple[str, int]:
    notification = db.get_or_404(Notification, notification_id)
    if not retry_dead([notification.id], actor_id=me_id(), how="one"):
        return _detail_page(
            notification,
            status=409,
            error=f"Only dead messages can be retried; this one is {notification.status}.",
        )
    flash(f"Message {notification.id} is queued again.", "success")
    return redirect(url_for("admin.notifications_detail", notification_id=notification.id))


@bp.post("/notifications/retry")
@permission_required("notifications.manage")
def notifications_retry_bulk() -> Response | tuple[str, int]:
    """Retry the ticked rows, one row (its own button), or every dead message matching the
    filters the list shows (``scope=filtered``). Only dead ones are touched."""
    filters = {name: (request.form.get(name) or "").strip() for name in FILTERS}
    back: dict[str, Any] = {k: v for k, v in filters.items() if v}  # url_for arguments
    if request.form.get("one"):
        ids, how = selected_ids("one", 1), "one"
    elif request.form.get("scope") == "filtered":
        how = "all dead matching " + (
            " ".join(f"{k}={v}" for k, v in back.items() if k != "status") or "no filter"
        )
        query = _filtered(sa.select(Notification.id), {**filters, "status": Status.DEAD})
        ids = list(db.session.execute(query.order_by(Notification.id).limit(BULK_LIMIT)).scalars())
    else:
        ids, how = selected_ids("ids", BULK_LIMIT), "selected"
    if not ids:
        flash("Nothing to retry: tick the dead messages first, or retry all dead ones.", "warning")
        return redirect(url_for("admin.notifications", **back))
    requeued = retry_dead(ids, actor_id=me_id(), how=how)
    skipped = len(ids) - len(requeued)
    message = f"{len(requeued)} message(s) queued again."
    if skipped:
        message += f" {skipped} were not dead and were left alone."
    flash(message, "success" if requeued else "warning")
    return redirect(url_for("admin.notifications", **back))

"""The audit log: who did what to whom, newest first, filtered by action, actor, target
account and dates. Every value is shown escaped (they come from users and request headers)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import request
from sqlalchemy.orm import aliased

from app.accounts.models import AuditEvent, User
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, render_listing, str_arg
from app.admin.people.common import date_arg, like_pattern
from app.core.numbers import parse_id


@bp.get("/audit")
@permission_required("audit.view")
def audit_log() -> tuple[str, int]:
    actor = aliased(User, name="actor")
    target = aliased(User, name="target_user")
    stmt = (
        sa.select(AuditEvent, actor.email, target.email)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(target, target.id == AuditEvent.target_user_id)
    )
    errors: dict[str, str] = {}
    action = str_arg("action", limit=64)
    actor_email = str_arg("actor", limit=320)
    target_arg = str_arg("target", limit=320)
    since = date_arg("since", errors)
    until = date_arg("until", errors, end=True)
    if action:
        stmt = stmt.where(AuditEvent.action.ilike(like_pattern(action, prefix=True), escape="\\"))
    if actor_email:
        stmt = stmt.where(actor.email.ilike(like_pattern(actor_email.lower()), escape="\\"))
    if target_arg:
        if target_arg.isascii() and target_arg.isdigit():
            stmt = stmt.where(AuditEvent.target_user_id == (parse_id(target_arg) or 0))
        else:
            pattern = like_pattern(target_arg.lower())
            stmt = stmt.where(
                sa.or_(
                    target.email.ilike(pattern, escape="\\"),
                    AuditEvent.target.ilike(pattern, escape="\\"),
                )
            )
    if since:
        stmt = stmt.where(AuditEvent.created_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.created_at < until)
    bad_input = bool(errors)  # only a hand-edited URL; the date pickers send valid dates
    if since and until and since >= until:
        errors["until"] = "The end date is before the start date, so nothing can match."
    page = paginate(
        stmt,
        sorts={"created": AuditEvent.created_at},
        default="-created",
        scalars=False,
        tiebreak=AuditEvent.id,
    )
    html = render_listing(
        "admin/audit/list.html",
        "admin/audit/_table.html",
        page=page,
        args={k: request.args.get(k, "") for k in ("action", "actor", "target", "since", "until")},
        errors=errors,
    )
    return html, 400 if bad_input else 200

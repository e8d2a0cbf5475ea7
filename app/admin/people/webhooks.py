"""Received payment webhook events and their processing status; staff replay a dead or
failed one (it is processed again straight after the commit, idempotently)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, render_listing, str_arg
from app.admin.people.common import me_id
from app.extensions import db
from app.payments.models import EventStatus, WebhookEvent
from app.payments.webhooks import replay_now

STATUSES = tuple(EventStatus)
REPLAYABLE = (EventStatus.DEAD, EventStatus.FAILED)


def _types() -> list[str]:
    return list(
        db.session.execute(
            sa.select(WebhookEvent.type).distinct().order_by(WebhookEvent.type).limit(200)
        ).scalars()
    )


@bp.get("/webhook-events")
@permission_required("orders.manage")
def webhook_events() -> str:
    types = _types()
    status = str_arg("status", choices=STATUSES)
    type_ = str_arg("type", limit=100, choices=types)
    stmt = sa.select(WebhookEvent)
    if status:
        stmt = stmt.where(WebhookEvent.status == status)
    if type_:
        stmt = stmt.where(WebhookEvent.type == type_)
    page = paginate(
        stmt,
        sorts={
            "received": WebhookEvent.received_at,
            "attempts": WebhookEvent.attempts,
            "status": WebhookEvent.status,
        },
        default="-received",
        tiebreak=WebhookEvent.id,
    )
    return render_listing(
        "admin/webhooks/list.html",
        "admin/webhooks/_table.html",
        page=page,
        status=status,
        type=type_,
        statuses=STATUSES,
        types=types,
        replayable=REPLAYABLE,
    )


def _detail_page(event: WebhookEvent, *, status: int = 200, error: str = "") -> tuple[str, int]:
    payload = json.dumps(event.payload, indent=2, sort_keys=True, default=str)
    return (
        render_template(
            "admin/webhooks/detail.html",
            event=event,
            payload=payload,
            replayable=REPLAYABLE,
            error=error,
        ),
        status,
    )


@bp.get("/webhook-events/<int:event_id>")
@permission_required("orders.manage")
def webhook_events_detail(event_id: int) -> tuple[str, int]:
    return _detail_page(db.get_or_404(WebhookEvent, event_id))


@bp.post("/webhook-events/<int:event_id>/replay")
@permission_required("orders.manage")
def webhook_events_replay(event_id: int) -> Response | tuple[str, int]:
    event = db.get_or_404(WebhookEvent, event_id)
    if not replay_now(event.id, actor_id=me_id()):
        return _detail_page(
            event,
            status=409,
            error=f"Only dead or failed events can be replayed; this one is {event.status}.",
        )
    flash(f"Event {event.event_id} is being processed again.", "success")
    return redirect(url_for("admin.webhook_events_detail", event_id=event.id))

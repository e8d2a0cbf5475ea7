"""Audit events: actor, target, action, where from. Never secrets; control characters
neutralised so a value cannot forge log lines or break a table."""

from __future__ import annotations

import re

from flask import g, has_request_context, request

from app.accounts.models import AuditEvent
from app.extensions import db

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", value or "")[:limit]


def audit(
    action: str,
    *,
    actor_id: int | None = None,
    target_user_id: int | None = None,
    target: str = "",
    detail: str = "",
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        target_user_id=target_user_id,
        target=clean(target, 255),
        detail=clean(detail, 500),
    )
    if has_request_context():
        event.ip_address = clean(request.remote_addr or "", 64)
        event.user_agent = clean(request.headers.get("User-Agent", ""), 255)
        event.request_id = clean(getattr(g, "request_id", ""), 128)
    db.session.add(event)
    return event

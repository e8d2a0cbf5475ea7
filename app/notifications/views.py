"""Unsubscribe (public, one click) and, outside production, the outbox and previews."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from flask import abort, current_app, render_template, request
from werkzeug.wrappers import Response

from app.extensions import csrf, db, limiter
from app.notifications import bp, delivery
from app.notifications.models import Notification
from app.notifications.rendering import read_unsubscribe_token, render, template_names
from app.notifications.samples import SAMPLES, sample_notification
from app.notifications.services import unsubscribe as unsubscribe_address

security_log = logging.getLogger("app.security.webhooks")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: mail clients POST without our token; the signed token is it
def unsubscribe(token: str) -> str | tuple[str, int]:
    parsed = read_unsubscribe_token(token)
    if parsed is None:
        return render_template("notifications/unsubscribe.html", state="invalid"), 400
    address, category = parsed
    if request.method == "POST":
        unsubscribe_address(address, category)
        return render_template("notifications/unsubscribe.html", state="done", address=address)
    return render_template(
        "notifications/unsubscribe.html", state="confirm", address=address, token=token
    )


@bp.post("/webhooks/brevo")
@csrf.exempt  # Brevo's own calls: the bearer token set on the webhook authenticates them
@limiter.exempt  # a bounce storm must not be dropped; the token check is constant time
def brevo_webhook() -> tuple[str, int]:
    """Brevo's transactional events (one object, or a list when batched)."""
    if not delivery.token_ok(request.headers.get("Authorization")):
        security_log.warning("brevo webhook refused: bad or missing token")
        return "", 401
    payload = request.get_json(silent=True)
    try:
        delivery.record(payload)
    except delivery.BadEvent as exc:
        return str(exc), 400
    return "", 204


def _dev_only() -> None:
    if current_app.config["SHOP_ENV"] == "production":
        abort(404)


@bp.get("/dev/outbox")
def outbox() -> str:
    _dev_only()
    rows = (
        db.session.execute(sa.select(Notification).order_by(Notification.id.desc()).limit(100))
        .scalars()
        .all()
    )
    return render_template("notifications/dev_outbox.html", rows=rows)


@bp.get("/dev/outbox/<int:notification_id>")
def outbox_message(notification_id: int) -> str:
    _dev_only()
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    message = render(notification)
    return render_template(
        "notifications/dev_message.html", notification=notification, message=message
    )


@bp.get("/dev/outbox/<int:notification_id>/html")
def outbox_message_html(notification_id: int) -> Response:
    """The HTML part on its own, for the preview frame (sandboxed: no scripts, no forms)."""
    _dev_only()
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    return _html_part(render(notification).html)


@bp.get("/dev/notifications")
def previews() -> str:
    _dev_only()
    return render_template(
        "notifications/dev_previews.html", names=template_names(), samples=SAMPLES
    )


@bp.get("/dev/notifications/<name>")
def preview(name: str) -> str:
    _dev_only()
    if name not in template_names():
        abort(404)
    notification = sample_notification(name)
    message = render(notification)
    return render_template(
        "notifications/dev_message.html",
        notification=notification,
        message=message,
        preview=True,
        variables=json.dumps(notification.variables, indent=2),
    )


@bp.get("/dev/notifications/<name>/html")
def preview_html(name: str) -> Response:
    _dev_only()
    if name not in template_names():
        abort(404)
    return _html_part(render(sample_notification(name)).html)


def _html_part(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    # Emails carry inline styles; this frame-only response allows them and nothing else.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' data: https:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'; sandbox"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response

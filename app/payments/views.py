"""POST /webhooks/stripe, and the sandbox's TEST MODE checkout page (development only)."""

from __future__ import annotations

import logging

from flask import abort, current_app, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response

from app.core.errors import problem
from app.extensions import csrf, limiter
from app.payments import bp, sandbox
from app.payments.stripe_gateway import InvalidWebhook
from app.payments.webhooks import receive

security_log = logging.getLogger("app.security.webhooks")


@bp.post("/webhooks/stripe")
@csrf.exempt  # authenticated by the Stripe signature instead
@limiter.exempt
def stripe_webhook() -> Response:
    payload = request.get_data(cache=False)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        stored = receive(payload, signature)
    except InvalidWebhook as exc:
        security_log.warning("rejected webhook from %s: %s", request.remote_addr, exc)
        return problem(
            400, "The webhook signature or payload is not valid.", code="invalid-webhook"
        )
    return jsonify(received=True, duplicate=stored is None)


def _sandbox_only() -> None:
    cfg = current_app.config
    if cfg["PAYMENT_PROVIDER"] != "sandbox" or cfg["SHOP_ENV"] == "production":
        abort(404)


@bp.get("/sandbox/checkout/<session_id>")
def sandbox_checkout(session_id: str) -> str:
    _sandbox_only()
    row = sandbox._get(session_id)
    if row is None:
        abort(404)
    return render_template(
        "payments/sandbox_checkout.html",
        session=row,
        status=sandbox.status_of(row),
        saved_cards=sandbox.list_saved_cards(row.customer) if row.customer else [],
    )


@bp.post("/sandbox/checkout/<session_id>/<any(pay, decline, cancel):action>")
def sandbox_action(session_id: str, action: str) -> Response:
    _sandbox_only()
    try:
        back = sandbox.perform(session_id, action, save_card=request.form.get("save_card") == "1")
    except LookupError:
        abort(404)
    return redirect(back, code=303)

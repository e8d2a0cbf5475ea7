"""Card disputes: what Stripe's ``charge.dispute.created/updated/closed`` events say, kept once.

Each event carries the whole dispute as it was when the event was made. They are stored and
handled like every other event (app.payments.webhooks: verified, deduplicated by event id,
retried), and applied here so that any number of deliveries, in any order, leave one row
that says what the newest event said:

* the first event seen for a dispute (whichever type it is) records it, flags its order
  (the order's page and the orders list show it) and alerts staff with the evidence
  deadline; the audit log says so;
* a later event changes the row only when it is newer (Stripe's ``created``) and says
  something new; a closed dispute never opens again;
* closing (won, lost, an inquiry closed) is audited and staff are told the outcome.

Evidence is submitted in Stripe's Dashboard; the shop links to it and never stores the
customer's statement or the card's details.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.core.templating import money, shop_time
from app.db import upsert, utcnow
from app.extensions import db
from app.notifications.models import Category
from app.notifications.rendering import external_url
from app.notifications.services import notify
from app.payments.models import CLOSED_DISPUTES, Dispute, DisputeStatus, Payment

if TYPE_CHECKING:
    from app.orders.models import Order

log = logging.getLogger(__name__)

STATUS_LABELS: dict[str, str] = {
    DisputeStatus.WARNING_NEEDS_RESPONSE: "Inquiry: needs a response",
    DisputeStatus.WARNING_UNDER_REVIEW: "Inquiry: under review",
    DisputeStatus.WARNING_CLOSED: "Inquiry closed",
    DisputeStatus.NEEDS_RESPONSE: "Chargeback: needs a response",
    DisputeStatus.UNDER_REVIEW: "Chargeback: under review",
    DisputeStatus.WON: "Won",
    DisputeStatus.LOST: "Lost",
    DisputeStatus.PREVENTED: "Prevented",
}

# Stripe's reasons (docs.stripe.com/api/disputes/object#dispute_object-reason), as staff read them.
REASON_LABELS = {
    "bank_cannot_process": "the bank cannot process it",
    "check_returned": "check returned",
    "credit_not_processed": "the customer expected a refund",
    "customer_initiated": "the customer asked their bank",
    "debit_not_authorized": "debit not authorised",
    "duplicate": "charged twice",
    "fraudulent": "the cardholder did not authorise it (fraud)",
    "general": "general",
    "incorrect_account_details": "incorrect account details",
    "insufficient_funds": "insufficient funds",
    "noncompliant": "non-compliant",
    "product_not_received": "the goods did not arrive",
    "product_unacceptable": "the goods were not as described",
    "subscription_canceled": "a cancelled subscription",
    "unrecognized": "the cardholder does not recognise the charge",
}


# A chargeback still open, or lost: Stripe refuses refunds of the charge (charge_disputed),
# and a lost one gave the money back already. An inquiry (warning_*) may still be refunded,
# which is often the best answer to it.
BLOCKS_REFUNDS = (DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW, DisputeStatus.LOST)


# How far along a dispute is, for two events Stripe stamped with the same second.
_STAGE = {
    DisputeStatus.WARNING_NEEDS_RESPONSE: 0,
    DisputeStatus.WARNING_UNDER_REVIEW: 1,
    DisputeStatus.NEEDS_RESPONSE: 2,
    DisputeStatus.UNDER_REVIEW: 3,
    DisputeStatus.WARNING_CLOSED: 4,
    DisputeStatus.WON: 4,
    DisputeStatus.LOST: 4,
    DisputeStatus.PREVENTED: 4,
}


def refund_blocked(order: Order) -> str:
    """Why the order's payment cannot be refunded because of a dispute ("" when it can)."""
    for dispute in order.disputes:
        if dispute.status == DisputeStatus.LOST:
            return (
                "The cardholder's bank took this payment back in a dispute (lost): it cannot "
                "be refunded as well."
            )
        if dispute.status in BLOCKS_REFUNDS:
            return (
                f"This payment is disputed ({status_label(dispute.status)}): it cannot be "
                "refunded while the chargeback is open. Respond in Stripe's Dashboard instead."
            )
    return ""


class DisputeInvalid(ValueError):
    """The event's object is not a dispute the shop can record (kept as a failed event)."""


@dataclass(frozen=True)
class _Seen:
    """One event's dispute, checked."""

    dispute_id: str
    payment_intent: str
    charge: str
    amount: int
    currency: str
    reason: str
    status: DisputeStatus
    due_by: datetime | None
    livemode: bool
    created: int  # the event's time at the provider


def _has_dispute(*conditions: Any) -> Any:
    from app.orders.models import Order

    return sa.exists().where(Dispute.order_id == Order.id, *conditions)


# The orders list's filter: orders with a dispute still open, or with any dispute.
DISPUTE_FILTERS = {
    "open": _has_dispute(Dispute.status.not_in(CLOSED_DISPUTES)),
    "any": _has_dispute(),
}
DISPUTE_FILTER_LABELS = {"open": "With an open dispute", "any": "Ever disputed"}


def open_disputes(order_ids: list[int]) -> set[int]:
    """Which of these orders have a dispute still open (one query, for a page of orders)."""
    if not order_ids:
        return set()
    rows = db.session.execute(
        sa.select(Dispute.order_id).where(
            Dispute.order_id.in_(order_ids), Dispute.status.not_in(CLOSED_DISPUTES)
        )
    ).scalars()
    return {order_id for order_id in rows if order_id is not None}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def dashboard_url(dispute: Dispute) -> str:
    prefix = "" if dispute.livemode else "test/"
    return f"https://dashboard.stripe.com/{prefix}disputes/{dispute.dispute_id}"


def _text(obj: dict[str, Any], name: str, limit: int) -> str:
    value = obj.get(name)
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value[:limit] if isinstance(value, str) else ""


def _parse(event: dict[str, Any]) -> _Seen:
    obj = (event.get("data") or {}).get("object") or {}
    dispute_id = _text(obj, "id", 255)
    if obj.get("object") != "dispute" or not dispute_id:
        raise DisputeInvalid(f"not a dispute: {str(obj.get('object'))[:40]}")
    amount = obj.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise DisputeInvalid(f"dispute {dispute_id}: amount {amount!r}")
    try:
        status = DisputeStatus(str(obj.get("status")))
    except ValueError:
        unknown = str(obj.get("status"))[:40]
        raise DisputeInvalid(f"dispute {dispute_id}: unknown status {unknown!r}") from None
    due = (obj.get("evidence_details") or {}).get("due_by")
    created = event.get("created")
    return _Seen(
        dispute_id=dispute_id,
        payment_intent=_text(obj, "payment_intent", 255),
        charge=_text(obj, "charge", 255),
        amount=amount,
        currency=_text(obj, "currency", 3).upper(),
        reason=_text(obj, "reason", 64),
        status=status,
        due_by=datetime.fromtimestamp(due, UTC) if isinstance(due, int) and due > 0 else None,
        livemode=obj.get("livemode") is True,
        created=created if isinstance(created, int) and created > 0 else 0,
    )


def record_dispute_event(event: dict[str, Any]) -> Dispute:
    """Apply one ``charge.dispute.*`` event (see the module's docstring); the caller's
    transaction commits it."""
    seen = _parse(event)
    order_id = None
    if seen.payment_intent:
        order_id = db.session.execute(
            sa.select(Payment.order_id)
            .where(Payment.payment_intent == seen.payment_intent)
            .order_by(Payment.id)
            .limit(1)
        ).scalar_one_or_none()
    now = utcnow()
    inserted = db.session.execute(
        upsert(Dispute)
        .values(
            dispute_id=seen.dispute_id,
            order_id=order_id,
            payment_intent=seen.payment_intent,
            charge=seen.charge,
            amount=seen.amount,
            currency=seen.currency,
            reason=seen.reason,
            status=seen.status,
            evidence_due_by=seen.due_by,
            livemode=seen.livemode,
            opened_at=now,
            closed_at=now if seen.status in CLOSED_DISPUTES else None,
            event_created=seen.created,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dispute_id"])
        .returning(Dispute.id)
    ).scalar_one_or_none()
    dispute = db.session.execute(  # locked: two events of one dispute apply one at a time
        sa.select(Dispute)
        .where(Dispute.dispute_id == seen.dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if inserted is not None:
        _opened(dispute)
        return dispute
    if dispute.status in CLOSED_DISPUTES or seen.created < dispute.event_created:
        return dispute  # the dispute is over, or older news
    if (
        seen.created == dispute.event_created
        and _STAGE[seen.status] < _STAGE[DisputeStatus(dispute.status)]
    ):
        return dispute  # two events of one second: the one further along wins
    before = dispute.status
    dispute.event_created = seen.created
    dispute.amount, dispute.reason, dispute.evidence_due_by = seen.amount, seen.reason, seen.due_by
    if dispute.order_id is None and order_id is not None:
        dispute.order_id = order_id
    if seen.status == before:
        return dispute
    dispute.status = seen.status
    if seen.status in CLOSED_DISPUTES:
        dispute.closed_at = now
        _closed(dispute)
    else:
        audit(
            "payments.dispute_updated",
            target=_target(dispute),
            detail=f"{status_label(before)} -> {status_label(seen.status)}",
        )
    return dispute


def _target(dispute: Dispute) -> str:
    number = dispute.order.number if dispute.order is not None else "no order"
    return f"{number} {dispute.dispute_id}"


def _opened(dispute: Dispute) -> None:
    amount = money(dispute.amount, dispute.currency)
    due = shop_time(dispute.evidence_due_by) if dispute.evidence_due_by else ""
    audit(
        "payments.dispute_opened",
        target=_target(dispute),
        detail=f"{amount}, {reason_label(dispute.reason)}, {status_label(dispute.status)}"
        + (f", evidence due by {due}" if due else ""),
    )
    if dispute.order is None:
        log.warning(
            "dispute %s matches no order (payment intent %r)",
            dispute.dispute_id,
            dispute.payment_intent,
        )
    if dispute.status in CLOSED_DISPUTES:
        _alert(dispute, headline=f"A dispute of {amount} was recorded, already closed")
        return
    if dispute.needs_response and due:
        action = (
            f"Submit evidence in Stripe's Dashboard by {due} (after that the bank decides "
            "without it): the order, its delivery and your correspondence with the customer."
        )
    else:
        action = "Stripe is reviewing it; nothing is needed from you now."
    _alert(
        dispute,
        headline=f"The customer disputed {amount} ({reason_label(dispute.reason)})",
        action=action,
    )


def _closed(dispute: Dispute) -> None:
    amount = money(dispute.amount, dispute.currency)
    audit(
        "payments.dispute_closed",
        target=_target(dispute),
        detail=f"{status_label(dispute.status)}, {amount}",
    )
    if dispute.status == DisputeStatus.WON:
        outcome = f"The dispute of {amount} was decided in your favour."
    elif dispute.status == DisputeStatus.LOST:
        outcome = (
            f"The dispute of {amount} was lost: the bank returned the money to the cardholder "
            "(plus Stripe's dispute fee)."
        )
    else:
        outcome = f"The dispute of {amount} is closed ({status_label(dispute.status)})."
    _alert(dispute, headline=outcome, action="Nothing more to do in Stripe.")


def _alert(dispute: Dispute, *, headline: str, action: str = "") -> None:
    order = dispute.order
    number = order.number if order is not None else "(no order of this shop)"
    admin_url = (
        external_url("admin.orders_detail", order_id=order.id)
        if order is not None
        else external_url("admin.orders", dispute="open")
    )
    for address in current_app.config["STAFF_ALERT_EMAILS"]:
        notify(
            "payment-dispute",
            to=address,
            category=Category.STAFF,
            variables={
                "order_number": number,
                "headline": headline,
                "status": status_label(dispute.status),
                "due_by": shop_time(dispute.evidence_due_by) if dispute.evidence_due_by else "",
                "action": action,
                "dashboard_url": dashboard_url(dispute),
                "admin_url": admin_url,
            },
        )

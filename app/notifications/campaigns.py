"""Campaigns: a marketing e-mail to every customer who agreed to marketing e-mail.

* Audience: active, verified customer accounts whose marketing e-mail choice is on, minus
  addresses that unsubscribed or bounced (``audience_query``). Counted when sending starts.
* Sending: ``start`` (now) or ``schedule`` (later; the minute sweeper starts due campaigns
  with a conditional UPDATE, so of several workers one starts it). The send task writes
  outbox rows in batches of ``BATCH``, one transaction each, moving ``cursor_user_id`` with
  them: a worker that dies mid-way leaves a campaign the sweeper resumes from the cursor,
  and nobody gets it twice. Each message carries the RFC 8058 one-click unsubscribe.
* Every change is audited; the figures come from the outbox and the provider's events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.accounts.audit import audit
from app.accounts.models import Role, User
from app.core.shop_errors import ShopError
from app.db import affected, utcnow
from app.extensions import db
from app.notifications import delivery, services
from app.notifications.models import (
    Campaign,
    CampaignStatus,
    Category,
    Channel,
    Notification,
    NotificationPreference,
    Status,
    Suppression,
)
from app.notifications.rendering import external_url

BATCH = 500
TEMPLATES = ("newsletter",)  # the marketing templates a campaign is written in
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


class CampaignError(ShopError):
    code = "campaign-refused"


def audience_query() -> sa.Select[int, str, str]:
    """(user id, e-mail, name) of everyone a campaign goes to, by user id."""
    consented = sa.exists().where(
        NotificationPreference.user_id == User.id,
        NotificationPreference.channel == Channel.EMAIL,
        NotificationPreference.category == Category.MARKETING,
        NotificationPreference.enabled.is_(True),
    )
    suppressed = sa.exists().where(
        Suppression.address == User.email,
        Suppression.category.in_([Category.MARKETING, delivery.ALL]),
    )
    return (
        sa.select(User.id, User.email, User.name)
        .where(
            User.role == Role.CUSTOMER,
            User.is_active_account.is_(True),
            User.deleted_at.is_(None),
            User.email_verified_at.is_not(None),
            consented,
            ~suppressed,
        )
        .order_by(User.id)
    )


def audience_size() -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(audience_query().subquery())
    ).scalar_one()


def _check(name: str, headline: str, body_text: str, template: str) -> None:
    if not name.strip():
        raise CampaignError("Enter a name for the campaign (only staff see it).", field="name")
    if not headline.strip():
        raise CampaignError(
            "Enter the headline: it is the subject and the heading.", field="headline"
        )
    if not body_text.strip():
        raise CampaignError("Write the message.", field="body_text")
    if template not in TEMPLATES:
        raise CampaignError("Choose a template.", field="template")


def create(
    *, name: str, headline: str, body_text: str, template: str = "newsletter", actor_id: int | None
) -> Campaign:
    _check(name, headline, body_text, template)
    campaign = Campaign(
        name=name.strip()[:120],
        headline=" ".join(headline.split())[:150],
        body_text=body_text.replace("\r\n", "\n").strip()[:20000],
        template=template,
        status=CampaignStatus.DRAFT,
        audience=0,
        queued=0,
        cursor_user_id=0,
        created_by=actor_id,
    )
    db.session.add(campaign)
    db.session.flush()
    audit(
        "campaign.created",
        actor_id=actor_id,
        target=f"campaign {campaign.id}",
        detail=campaign.name,
    )
    return campaign


def update(
    campaign: Campaign, *, name: str, headline: str, body_text: str, actor_id: int | None
) -> None:
    db.session.refresh(campaign, with_for_update=True)  # the scheduler starts it under this lock
    if campaign.status not in EDITABLE:
        raise CampaignError("A campaign that is sending or sent cannot be changed.")
    _check(name, headline, body_text, campaign.template)
    campaign.name = name.strip()[:120]
    campaign.headline = " ".join(headline.split())[:150]
    campaign.body_text = body_text.replace("\r\n", "\n").strip()[:20000]
    audit(
        "campaign.updated",
        actor_id=actor_id,
        target=f"campaign {campaign.id}",
        detail=campaign.name,
    )


def variables(campaign: Campaign, name: str) -> dict[str, Any]:
    return {
        "name": (name or "").split()[0] if (name or "").split() else "there",
        "headline": campaign.headline,
        "body_text": campaign.body_text,
        "shop_url": external_url("catalog.home"),
    }


def test_send(campaign: Campaign, *, to: str, name: str, actor_id: int | None) -> Notification:
    """The campaign to one staff address, as a customer gets it (unsubscribe link too), now."""
    notification = services.notify(
        campaign.template,
        to=to,
        category=Category.STAFF,  # a test reaches staff whatever their own choices
        variables={**variables(campaign, name), "test_send": True},
    )
    audit("campaign.test_sent", actor_id=actor_id, target=f"campaign {campaign.id}", detail=to)
    return notification


def schedule(campaign: Campaign, when: datetime, *, actor_id: int | None) -> None:
    db.session.refresh(campaign, with_for_update=True)  # as update(): no race with start
    if campaign.status not in EDITABLE:
        raise CampaignError("This campaign is already sending or sent.")
    if when <= utcnow():
        raise CampaignError("Choose a time in the future, or send it now.", field="scheduled_for")
    campaign.status, campaign.scheduled_for = CampaignStatus.SCHEDULED, when
    audit(
        "campaign.scheduled",
        actor_id=actor_id,
        target=f"campaign {campaign.id}",
        detail=when.isoformat(),
    )


def unschedule(campaign: Campaign, *, actor_id: int | None) -> None:
    claimed = affected(
        sa.update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.SCHEDULED)
        .values(status=CampaignStatus.DRAFT, scheduled_for=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not claimed:
        raise CampaignError("It has started sending already.")
    db.session.refresh(campaign)
    audit("campaign.unscheduled", actor_id=actor_id, target=f"campaign {campaign.id}")


def start(campaign_id: int, *, actor_id: int | None = None) -> bool:
    """Draft or due scheduled → sending, once (a conditional UPDATE); the audience is counted
    now. The caller enqueues the send task after the commit."""
    now = utcnow()
    started = affected(
        sa.update(Campaign)
        .where(
            Campaign.id == campaign_id,
            sa.or_(
                Campaign.status == CampaignStatus.DRAFT,
                sa.and_(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_for <= now),
            ),
        )
        .values(
            status=CampaignStatus.SENDING, started_at=now, audience=audience_size(), updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    if started:
        audit("campaign.started", actor_id=actor_id, target=f"campaign {campaign_id}")
    return bool(started)


def due_campaigns() -> list[int]:
    """Scheduled campaigns whose time has come, started here; and sending ones to resume."""
    due = list(
        db.session.execute(
            sa.select(Campaign.id).where(
                Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_for <= utcnow()
            )
        ).scalars()
    )
    started = [cid for cid in due if start(cid)]
    sending = list(
        db.session.execute(
            sa.select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
        ).scalars()
    )
    return sorted(set(started) | set(sending))


def send_batch(campaign_id: int, size: int = BATCH) -> int:
    """Write the next batch of outbox rows; returns how many (0: the campaign is done).

    The campaign row is locked first, so two workers on one campaign take turns, and the
    cursor moves in the same transaction as the rows it covers."""
    campaign = db.session.execute(
        sa.select(Campaign).where(Campaign.id == campaign_id).with_for_update()
    ).scalar_one_or_none()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return 0
    rows = db.session.execute(
        audience_query().where(User.id > campaign.cursor_user_id).limit(size)
    ).all()
    for user_id, email, name in rows:
        notification = services.notify(
            campaign.template,
            to=email,
            user_id=user_id,
            category=Category.MARKETING,
            variables=variables(campaign, name),
        )
        notification.campaign_id = campaign.id
    if rows:
        campaign.cursor_user_id = rows[-1][0]
        campaign.queued += len(rows)
    if len(rows) < size:
        campaign.status, campaign.finished_at = CampaignStatus.SENT, utcnow()
        audit(
            "campaign.sent", target=f"campaign {campaign.id}", detail=f"{campaign.queued} messages"
        )
    db.session.flush()
    return len(rows)


def figures(campaign: Campaign) -> dict[str, Any]:
    """The outbox's statuses for the campaign, and the provider's rates."""
    statuses = dict(
        db.session.execute(
            sa.select(Notification.status, sa.func.count())
            .where(Notification.campaign_id == campaign.id)
            .group_by(Notification.status)
        ).all()
    )
    rates = delivery.rates(Notification.campaign_id, Notification.campaign_id == campaign.id)
    return {
        "statuses": {s: int(statuses.get(s, 0)) for s in Status},
        "rates": rates[0] if rates else None,
    }

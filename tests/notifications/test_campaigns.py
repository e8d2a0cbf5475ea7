"""Campaigns, as staff run them: write, preview, test to yourself, send now or schedule; the
audience is the customers who agreed to marketing e-mail and nobody else; each gets exactly
one message with a one-click unsubscribe, in batches that resume without repeats."""

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work, utcnow
from app.extensions import db
from app.notifications import campaigns
from app.notifications.models import Campaign, CampaignStatus, Notification, Status
from app.notifications.rendering import render
from app.notifications.services import set_preference, unsubscribe
from app.notifications.tasks import start_due
from tests.accounts.helpers import make_user
from tests.admin.helpers import csrf, sign_in_staff


def customers():
    """Who agreed and who did not: only the first three may get a campaign."""
    yes = [make_user(f"yes{i}@example.com") for i in range(3)]
    for user in yes:
        set_preference(user.id, "email", "marketing", True)
    no = make_user("no@example.com")  # never agreed
    unverified = make_user("unverified@example.com", verified=False)
    set_preference(unverified.id, "email", "marketing", True)
    gone = make_user("gone@example.com")
    set_preference(gone.id, "email", "marketing", True)
    unsubscribe("gone@example.com", "marketing")  # agreed, then unsubscribed by the link
    staff = make_user("colleague@example.com", role="staff")
    set_preference(staff.id, "email", "marketing", True)
    commit_unit_of_work()
    return yes, no


def post(client, path, data=None, page=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf(client, page or path)})


def new_campaign(client):
    response = post(
        client,
        "/admin/campaigns/new",
        {
            "name": "Autumn knitwear",
            "headline": "New in: autumn knitwear",
            "body_text": "Our merino jumpers are back.\r\n\r\nIn four new colours.",
        },
    )
    assert response.status_code == 303
    return db.session.execute(sa.select(Campaign)).scalar_one()


def campaign_messages(campaign):
    db.session.expire_all()
    return list(
        db.session.execute(
            sa.select(Notification).where(Notification.campaign_id == campaign.id)
        ).scalars()
    )


def test_write_preview_test_and_send_now(client, db):
    yes, _ = customers()
    staff = sign_in_staff(client)
    campaign = new_campaign(client)
    page = client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True)
    assert "It goes to the 3 customers who agreed to marketing e-mail" in page
    assert "Subject:</strong> New in: autumn knitwear" in page
    preview = client.get(f"/admin/campaigns/{campaign.id}/preview.html")
    assert "Our merino jumpers are back.</p>" in preview.get_data(as_text=True)
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    path = f"/admin/campaigns/{campaign.id}"
    post(client, f"{path}/test", page=path)
    test = db.session.execute(
        sa.select(Notification).where(Notification.to_address == staff.email)
    ).scalar_one()
    assert test.status == Status.SENT and render(test).subject == "[Test] New in: autumn knitwear"
    response = post(client, f"{path}/send", page=path)
    assert response.status_code == 303
    sent = campaign_messages(campaign)
    assert sorted(n.to_address for n in sent) == [u.email for u in yes]
    assert {n.status for n in sent} == {Status.SENT}
    message = render(sent[0])
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.headers["List-Unsubscribe"].startswith("<http")
    db.session.refresh(campaign)
    assert (campaign.status, campaign.audience, campaign.queued) == (CampaignStatus.SENT, 3, 3)
    again = post(client, f"{path}/send", page=path)
    assert "already started sending" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(campaign_messages(campaign)) == 3
    progress = client.get(f"{path}/progress").get_data(as_text=True)
    assert "Messages written to the outbox: 3 of 3" in progress
    actions = (
        db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.action.like("campaign.%")))
        .scalars()
        .all()
    )
    assert actions == [
        "campaign.created",
        "campaign.test_sent",
        "campaign.started",
        "campaign.sent",
    ]


def test_a_scheduled_campaign_goes_at_its_time_to_who_agreed_then(client, db):
    yes, no = customers()
    sign_in_staff(client)
    campaign = new_campaign(client)
    path = f"/admin/campaigns/{campaign.id}"
    local = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")  # store zone is UTC
    assert post(client, f"{path}/schedule", {"scheduled_for": local}, page=path).status_code == 303
    assert start_due() == []  # not yet
    assert campaign_messages(campaign) == []
    set_preference(no.id, "email", "marketing", True)  # agrees before it goes
    unsubscribe(yes[0].email, "marketing")  # and one changes their mind
    db.session.execute(
        sa.update(Campaign).values(scheduled_for=utcnow() - timedelta(seconds=1))
    )  # its time has come
    commit_unit_of_work()
    assert start_due() == [campaign.id]
    assert start_due() == []  # a second sweep (or worker) sends nothing more
    got = sorted(n.to_address for n in campaign_messages(campaign))
    assert got == sorted([yes[1].email, yes[2].email, no.email])


def test_a_send_that_died_midway_resumes_without_repeats(db):
    customers()
    campaign = campaigns.create(
        name="Sale", headline="Sale", body_text="Everything 10 % off.", actor_id=None
    )
    commit_unit_of_work()
    assert campaigns.start(campaign.id)
    commit_unit_of_work()
    assert campaigns.send_batch(campaign.id, size=2) == 2  # then the worker died
    commit_unit_of_work()
    assert start_due() == [campaign.id]  # the sweeper resumes it
    assert len({n.to_address for n in campaign_messages(campaign)}) == 3
    assert len(campaign_messages(campaign)) == 3


def test_scheduling_needs_a_future_time_and_plain_dates(client, db):
    sign_in_staff(client)
    campaign = new_campaign(client)
    path = f"/admin/campaigns/{campaign.id}"
    for value, message in (
        ((utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "Choose a time in the future"),
        ("0001-01-01T00:00", "Choose a date between 2000 and 2100."),
        ("tomorrow", "Not a valid datetime value."),
        ("", "Choose when to send it."),
    ):
        response = post(client, f"{path}/schedule", {"scheduled_for": value}, page=path)
        assert response.status_code == 422 and message in response.get_data(as_text=True), value

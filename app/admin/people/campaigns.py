"""Campaigns: write a marketing e-mail, preview it, send a test to yourself, then send it now
or schedule it; watch it go out (progress, then the outbox's and the provider's figures).
The rules are in app/notifications/campaigns.py; every step is audited there."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateTimeLocalField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.people.common import sandboxed_html
from app.core.shop_errors import show_on_form
from app.db import after_commit
from app.extensions import db
from app.notifications import campaigns, tasks
from app.notifications.campaigns import CampaignError
from app.notifications.channels import Message
from app.notifications.models import Campaign, CampaignStatus, Category, Notification
from app.notifications.rendering import render
from app.store.settings import store_details

PERMISSION = "notifications.manage"
INVALID = 422


class CampaignForm(FlaskForm):
    name = StringField(
        "Name (for staff)", validators=[DataRequired("Enter a name."), Length(max=120)]
    )
    headline = StringField(
        "Headline", validators=[DataRequired("Enter the headline."), Length(max=150)]
    )
    body_text = TextAreaField(
        "Message",
        validators=[DataRequired("Write the message."), Length(max=20000)],
        render_kw={"rows": 10},
    )


class ScheduleForm(FlaskForm):
    scheduled_for = DateTimeLocalField("Send at", format="%Y-%m-%dT%H:%M", validators=[Optional()])


class ActionForm(FlaskForm):
    pass


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def preview(campaign: Campaign) -> Message:
    """The campaign as the first customer would get it (a marketing message, so with the
    one-click unsubscribe), rendered and never stored."""
    row = Notification(
        id=0,
        to_address="customer@example.com",
        channel="email",
        template=campaign.template,
        variables=campaigns.variables(campaign, "Ada Lovelace"),
        category=Category.MARKETING,
    )
    return render(row)


@bp.get("/campaigns")
@permission_required(PERMISSION)
def campaigns_list() -> str:
    rows = list(db.session.execute(sa.select(Campaign).order_by(Campaign.id.desc())).scalars())
    return render_template(
        "admin/campaigns/list.html", campaigns=rows, audience=campaigns.audience_size()
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
def campaigns_new() -> Any:
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            campaign = campaigns.create(
                name=form.name.data or "",
                headline=form.headline.data or "",
                body_text=form.body_text.data or "",
                actor_id=current_user.id,
            )
        except CampaignError as exc:
            show_on_form(form, exc)
        else:
            flash(f"Saved the campaign {campaign.name}. Preview it and send a test.", "success")
            return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)
    status = INVALID if form.errors or form.form_errors else 200
    return render_template("admin/campaigns/new.html", form=form), status


def _detail(campaign: Campaign, form: CampaignForm | None = None, schedule_form=None, status=200):
    form = form or CampaignForm(
        formdata=None,
        data={
            "name": campaign.name,
            "headline": campaign.headline,
            "body_text": campaign.body_text,
        },
    )
    message = preview(campaign)
    page = render_template(
        "admin/campaigns/detail.html",
        campaign=campaign,
        form=form,
        schedule_form=schedule_form or ScheduleForm(formdata=None),
        action_form=ActionForm(),
        message=message,
        figures=campaigns.figures(campaign),
        audience=campaign.audience
        if campaign.status in (CampaignStatus.SENDING, CampaignStatus.SENT)
        else campaigns.audience_size(),
        editable=campaign.status in campaigns.EDITABLE,
        store_zone=store_details().timezone,
    )
    return page, status


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@permission_required(PERMISSION)
def campaigns_detail(campaign_id: int) -> Any:
    campaign = _campaign(campaign_id)
    if request.method == "GET":
        return _detail(campaign)
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            campaigns.update(
                campaign,
                name=form.name.data or "",
                headline=form.headline.data or "",
                body_text=form.body_text.data or "",
                actor_id=current_user.id,
            )
        except CampaignError as exc:
            show_on_form(form, exc)
        else:
            flash(f"Saved the campaign {campaign.name}.", "success")
            return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)
    return _detail(campaign, form=form, status=INVALID)


@bp.get("/campaigns/<int:campaign_id>/preview.html")
@permission_required(PERMISSION)
def campaigns_preview(campaign_id: int) -> Response:
    """The HTML alone for the preview frame, sandboxed like the outbox's."""
    return sandboxed_html(preview(_campaign(campaign_id)).html)


@bp.get("/campaigns/<int:campaign_id>/progress")
@permission_required(PERMISSION)
def campaigns_progress(campaign_id: int) -> str:
    """The progress panel (htmx polls it while the campaign is sending)."""
    campaign = _campaign(campaign_id)
    return render_template(
        "admin/campaigns/_progress.html",
        campaign=campaign,
        figures=campaigns.figures(campaign),
        audience=campaign.audience,
    )


def _action(campaign_id: int) -> Campaign:
    if not ActionForm().validate_on_submit():
        abort(400)
    return _campaign(campaign_id)


@bp.post("/campaigns/<int:campaign_id>/test")
@permission_required(PERMISSION)
def campaigns_test(campaign_id: int) -> Response:
    campaign = _action(campaign_id)
    campaigns.test_send(
        campaign, to=current_user.email, name=current_user.name, actor_id=current_user.id
    )
    flash(f"Sent a test of {campaign.name} to {current_user.email}.", "success")
    return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)


@bp.post("/campaigns/<int:campaign_id>/send")
@permission_required(PERMISSION)
def campaigns_send(campaign_id: int) -> Response:
    campaign = _action(campaign_id)
    if not campaigns.start(campaign.id, actor_id=current_user.id):
        flash("This campaign has already started sending.", "error")
    else:
        after_commit(partial(tasks.send_campaign, campaign.id), key=f"campaign:{campaign.id}")
        flash(f"Sending {campaign.name} now.", "success")
    return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)


@bp.post("/campaigns/<int:campaign_id>/schedule")
@permission_required(PERMISSION)
def campaigns_schedule(campaign_id: int) -> Any:
    campaign = _campaign(campaign_id)
    schedule_form = ScheduleForm()
    if schedule_form.validate_on_submit():
        when: datetime | None = schedule_form.scheduled_for.data
        try:
            if when is None:
                raise CampaignError("Choose when to send it.", field="scheduled_for")
            if not 2000 <= when.year <= 2100:
                raise CampaignError("Choose a date between 2000 and 2100.", field="scheduled_for")
            moment = when.replace(tzinfo=store_details().tzinfo)
            campaigns.schedule(campaign, moment, actor_id=current_user.id)
        except CampaignError as exc:
            show_on_form(schedule_form, exc, default="scheduled_for")
        else:
            flash(f"Scheduled {campaign.name}.", "success")
            return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)
    return _detail(campaign, schedule_form=schedule_form, status=INVALID)


@bp.post("/campaigns/<int:campaign_id>/unschedule")
@permission_required(PERMISSION)
def campaigns_unschedule(campaign_id: int) -> Response:
    campaign = _action(campaign_id)
    try:
        campaigns.unschedule(campaign, actor_id=current_user.id)
    except CampaignError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{campaign.name} is a draft again; nothing was sent.", "success")
    return redirect(url_for("admin.campaigns_detail", campaign_id=campaign.id), code=303)

"""Staff order forms: the shape of the input only. Amounts typed in currency units are read
with Decimal into minor units; anything else about money is decided by the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.core.money import minor_units

MAX_AMOUNT_MAJOR = 10**11  # far above any order, far below a BIGINT


def parse_money(text: str, currency: str) -> int:
    """A refund amount or a filter bound: '12.50' / '12,50' → minor units (zero allowed)."""
    return minor_units(text, currency, max_major=MAX_AMOUNT_MAJOR)


class ShipForm(FlaskForm):
    carrier = StringField(
        "Carrier", validators=[DataRequired("Enter the carrier, e.g. DHL."), Length(max=64)]
    )
    tracking_number = StringField(
        "Tracking number",
        validators=[DataRequired("Enter the tracking number."), Length(max=64)],
    )
    tracking_url = StringField(
        "Tracking link (optional)",
        validators=[Optional(), Length(max=500)],
        render_kw={"inputmode": "url", "placeholder": "https://"},
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Note",
        validators=[DataRequired("Write the note first."), Length(max=2000)],
        id="note-body",
    )


class CancelForm(FlaskForm):
    reason = StringField(
        "Cancellation reason (optional)", validators=[Length(max=200)], id="cancel-reason"
    )


class RefundForm(FlaskForm):
    """Per-line quantities (``line-<id>``) are read by the view: their number depends on the
    order."""

    amount = StringField(
        "Or refund an amount instead", validators=[Length(max=20)], id="refund-amount"
    )
    restock = BooleanField("Put items back in stock", id="refund-restock")
    reason = StringField(
        "Refund reason (optional)", validators=[Length(max=255)], id="refund-reason"
    )

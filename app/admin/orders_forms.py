"""Staff order forms: the shape of the input only. Amounts typed in currency units are read
with Decimal into minor units; anything else about money is decided by the services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

MAX_MINOR = 10**13  # far above any order, far below a BIGINT


def parse_money(text: str, currency: str) -> int:
    """'12.50' / '12,50' / '1 234.5' in ``currency`` units → minor units. ValueError if it is
    not a plain non-negative amount with at most the currency's decimals."""
    raw = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    if not raw or len(raw) > 20 or not all(c.isdigit() or c == "." for c in raw):
        raise ValueError("not an amount")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError("not an amount") from exc
    if not value.is_finite() or value < 0:
        raise ValueError("not an amount")
    exponent = get_currency_precision(currency)
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError("too many decimals")
    if minor >= MAX_MINOR:
        raise ValueError("too large")
    return int(minor)


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

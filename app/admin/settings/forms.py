"""Settings forms: the shape of the input, and turning typed amounts into integers.

Amounts are typed as decimals ("4.95") and become integer minor units through ``Decimal``,
never a float; percentages ("23", "8.25") become basis points.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from zoneinfo import available_timezones

import phonenumbers
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.accounts.profile import countries, country_names, normalise_phone
from app.admin.catalog.forms import WholeNumberField
from app.core.forms import SelectField
from app.core.money import minor_units
from app.store.settings import MAX_ADDRESS_LINES, MAX_LOW_STOCK, parse_filterable

MAX_AMOUNT_MAJOR = Decimal(1_000_000)  # a shipping price above a million is a typo
_NUMBER = re.compile(r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _squash(value: str | None) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) else value


def parse_amount(raw: str, currency: str) -> int:
    """A shipping price or threshold: "4.95" → 495 in ``currency`` (zero allowed)."""
    return minor_units(raw, currency, max_major=MAX_AMOUNT_MAJOR)


def parse_percent(raw: str) -> int:
    """ "23" → 2300 basis points, "8.25" → 825; 0 to 100 with two decimals at most."""
    text = (raw or "").strip().removesuffix("%").strip()
    if "," in text:
        raise ValueError("Use a dot for decimals, like 8.25.")
    if not _NUMBER.match(text):
        raise ValueError("Enter a percentage like 23 or 8.25.")
    value = Decimal(text)
    if value > 100:
        raise ValueError("Enter a percentage from 0 to 100.")
    if value.normalize().as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("Use two decimal places at most, like 8.25.")
    return int(value * 100)


def format_percent(rate_bp: int) -> str:
    """2300 → "23", 825 → "8.25", 850 → "8.5"."""
    return f"{Decimal(rate_bp) / 100:f}"


def parse_countries(raw: str) -> list[str]:
    """ "ie, gb de" → ["IE", "GB", "DE"]; empty means every country."""
    codes: list[str] = []
    unknown: list[str] = []
    for token in re.split(r"[\s,;]+", (raw or "").upper()):
        if not token:
            continue
        if token not in country_names():
            unknown.append(token)
        elif token not in codes:
            codes.append(token)
    if unknown:
        listed = ", ".join(sorted(set(unknown))[:5])
        raise ValueError(f"Not ISO country codes: {listed}. Use two letters, like IE or GB.")
    return codes


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith("Etc/"))
    return [("UTC", "UTC"), *((n, n.replace("_", " ")) for n in names)]


class StoreSettingsForm(FlaskForm):
    name = StringField(
        "Store name",
        filters=[_squash],
        validators=[DataRequired("Enter the store’s name."), Length(max=120)],
    )
    legal_name = StringField(
        "Legal name", filters=[_squash], validators=[Optional(), Length(max=200)]
    )
    address = TextAreaField("Address", filters=[_strip], render_kw={"rows": 4})
    email = EmailField(
        "Contact email",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=320),
            Email("Enter an email address like shop@example.com.", check_deliverability=False),
        ],
    )
    phone = StringField("Phone", filters=[_strip], validators=[Optional(), Length(max=40)])
    vat_number = StringField(
        "VAT number", filters=[_strip], validators=[Optional(), Length(max=32)]
    )
    timezone = SelectField("Timezone", choices=[])
    low_stock_default = WholeNumberField(
        "Low-stock threshold for new variants",
        validators=[
            InputRequired("Enter a whole number."),
            NumberRange(0, MAX_LOW_STOCK, f"Enter a whole number from 0 to {MAX_LOW_STOCK:,}."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    apply_low_stock_to_all = BooleanField("Also set this threshold on every existing variant")
    filterable_names: list[str]
    filterable_specifications = StringField(
        "Specifications shoppers can filter by",
        filters=[_strip],
        validators=[Optional(), Length(max=300)],
    )

    def validate_filterable_specifications(self, field: StringField) -> None:
        try:
            self.filterable_names = parse_filterable(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()
        self.address_lines: list[str] = []
        self.filterable_names = []

    def validate_address(self, field: TextAreaField) -> None:
        lines = [" ".join(line.split()) for line in (field.data or "").splitlines()]
        lines = [line for line in lines if line]
        if len(lines) > MAX_ADDRESS_LINES:
            raise ValidationError(f"Use {MAX_ADDRESS_LINES} lines at most.")
        if any(len(line) > 120 for line in lines):
            raise ValidationError("Keep each line to 120 characters.")
        self.address_lines = lines

    def validate_phone(self, field: StringField) -> None:
        """Checked like customers' numbers, kept in the international form people read."""
        try:
            e164 = normalise_phone(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        field.data = (
            phonenumbers.format_number(
                phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            if e164
            else ""
        )

    def validate_vat_number(self, field: StringField) -> None:
        value = re.sub(r"[\s.\-]", "", (field.data or "").upper())
        if value and not re.fullmatch(r"[A-Z0-9]{4,20}", value):
            raise ValidationError("Enter the VAT number with letters and digits, like IE1234567T.")
        field.data = value


class ShippingMethodForm(FlaskForm):
    code = StringField(
        "Code",
        filters=[_strip, lambda v: v.lower() if isinstance(v, str) else v],
        validators=[DataRequired("Enter a code."), Length(max=32)],
    )
    name = StringField(
        "Name", filters=[_squash], validators=[DataRequired("Enter a name."), Length(max=120)]
    )
    countries = StringField("Countries", filters=[_strip], validators=[Length(max=2000)])
    price = StringField(
        "Price", filters=[_strip], validators=[DataRequired("Enter the price (0 for free).")]
    )
    free_over = StringField("Free for orders from", filters=[_strip])
    delivery_days = StringField(
        "Delivery time", filters=[_squash], validators=[Optional(), Length(max=32)]
    )
    position = WholeNumberField(
        "Position",
        default=0,
        validators=[
            InputRequired("Enter a whole number."),
            NumberRange(0, 10_000, "Enter a whole number from 0 to 10,000."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    active = BooleanField("Offered at checkout", default=True)

    def __init__(self, *args: object, currency: str = "EUR", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.country_codes: list[str] = []
        self.price_minor = 0
        self.free_over_minor: int | None = None

    def validate_code(self, field: StringField) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", field.data or ""):
            raise ValidationError(
                "Use lowercase letters, digits, - and _, like standard or ie-express."
            )

    def validate_countries(self, field: StringField) -> None:
        try:
            self.country_codes = parse_countries(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_price(self, field: StringField) -> None:
        try:
            self.price_minor = parse_amount(field.data or "", self.currency)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def validate_free_over(self, field: StringField) -> None:
        if not field.data:
            self.free_over_minor = None
            return
        try:
            value = parse_amount(field.data, self.currency)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if value <= 0:
            raise ValidationError("Enter an amount above zero, or leave it empty.")
        self.free_over_minor = value


class TaxRateForm(FlaskForm):
    country = SelectField("Country", choices=[], validators=[InputRequired("Choose a country.")])
    region = StringField("Region", filters=[_squash], validators=[Optional(), Length(max=120)])
    name = StringField(
        "Name",
        filters=[_squash],
        default="VAT",
        validators=[DataRequired("Enter a name, like VAT."), Length(max=64)],
    )
    rate = StringField("Rate (%)", filters=[_strip], validators=[DataRequired("Enter the rate.")])
    inclusive = BooleanField("Prices include this tax", default=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [("", "Choose a country"), *countries()]
        self.rate_bp = 0

    def validate_country(self, field: SelectField) -> None:
        if field.data not in country_names():
            raise ValidationError("Choose a country.")

    def validate_rate(self, field: StringField) -> None:
        try:
            self.rate_bp = parse_percent(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

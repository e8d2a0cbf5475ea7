"""The forms of Admin → Promotions: parsed into app/promotions/manage.py's PromotionInput,
and filled back from a saved promotion (times in the store's timezone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.admin.catalog.common import category_options
from app.admin.catalog.forms import WholeNumberField
from app.core.money import decimal_text, minor_units
from app.promotions import manage
from app.promotions.models import Benefit, Promotion, Scope
from app.promotions.services import PromotionError
from app.store.settings import store_details

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_SKUS = 200


class MoneyField(StringField):
    """Decimal text in the shop's currency; ``minor`` holds it parsed (None when empty)."""

    minor: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.minor = None
        if not (self.data or "").strip():
            return
        try:
            self.minor = minor_units(
                self.data, current_app.config["SHOP_CURRENCY"], max_major=1_000_000
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class PromotionForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[
            DataRequired("Enter a name shoppers will see on the discount line."),
            Length(max=120),
        ],
        description="Shoppers see it on the discount line, e.g. “Welcome 10 %”.",
    )
    requires_code = RadioField(
        "How it applies",
        choices=[
            SelectChoice("code", "With a code shoppers type"),
            SelectChoice("automatic", "Automatically, to every cart it fits"),
        ],
        default="code",
    )
    code = StringField(
        "Code",
        validators=[Length(max=40)],
        description="Letters, digits, hyphens; case does not matter, e.g. WELCOME10.",
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"},
    )
    benefit = RadioField(
        "What it gives",
        choices=[
            SelectChoice(Benefit.PERCENT, "A percentage off"),
            SelectChoice(Benefit.AMOUNT, "An amount off"),
            SelectChoice(Benefit.FREE_SHIPPING, "Free delivery"),
        ],
        default=Benefit.PERCENT,
    )
    percent = WholeNumberField("Percentage off", validators=[Optional()])
    amount = MoneyField("Amount off", validators=[Optional()])
    scope = RadioField(
        "On what",
        choices=[
            SelectChoice(Scope.ORDER, "The whole order"),
            SelectChoice(Scope.ITEMS, "Chosen categories and products"),
        ],
        default=Scope.ORDER,
    )
    category_ids = SelectMultipleField(
        "Categories (their subcategories too)", coerce=int, validate_choice=True
    )
    product_skus = TextAreaField(
        "Products, by SKU",
        description="One SKU of each product, separated by commas or new lines.",
        render_kw={"rows": 2, "maxlength": 4000},
    )
    min_subtotal = MoneyField(
        "Minimum spend", description="On the items it covers; leave empty for none."
    )
    starts_at = DateTimeLocalField("Starts", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField("Ends", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    usage_limit = WholeNumberField("Uses in total", validators=[Optional()])
    per_customer_limit = WholeNumberField("Uses per customer", validators=[Optional()])
    combines_with_codes = BooleanField("A code can add to it (automatic promotions)")

    def to_input(self) -> manage.PromotionInput:
        zone = store_details().tzinfo
        benefit = self.benefit.data or Benefit.PERCENT

        def moment(value: datetime | None, field: str) -> datetime | None:
            if value is None:
                return None
            if not MIN_YEAR <= value.year <= MAX_YEAR:  # and 0001 or 9999 cannot become UTC
                raise PromotionError(
                    f"Enter a date between {MIN_YEAR} and {MAX_YEAR}.", field=field
                )
            return value.replace(tzinfo=zone)

        value = 0
        if benefit == Benefit.PERCENT:
            if self.percent.data is None:
                raise PromotionError("Enter the percentage off, 1 to 100.", field="percent")
            value = self.percent.data
            if not 1 <= value <= 100:
                raise PromotionError(
                    "A percentage is a whole number from 1 to 100.", field="percent"
                )
        elif benefit == Benefit.AMOUNT:
            if not self.amount.minor:
                raise PromotionError("Enter the amount to take off.", field="amount")
            value = self.amount.minor
        skus = [s.strip() for s in (self.product_skus.data or "").replace("\n", ",").split(",")]
        skus = [s for s in skus if s]
        if len(skus) > MAX_SKUS:
            raise PromotionError(
                f"Choose at most {MAX_SKUS} products by SKU; for more, choose their categories.",
                field="product_skus",
            )
        return manage.PromotionInput(
            name=self.name.data or "",
            requires_code=self.requires_code.data != "automatic",
            benefit=benefit,
            value=value,
            code=self.code.data or "",
            scope=self.scope.data or Scope.ORDER,
            product_skus=skus,
            category_ids=list(self.category_ids.data or []),
            min_subtotal=self.min_subtotal.minor or 0,
            starts_at=moment(self.starts_at.data, "starts_at"),
            ends_at=moment(self.ends_at.data, "ends_at"),
            usage_limit=self.usage_limit.data,
            per_customer_limit=self.per_customer_limit.data,
            combines_with_codes=bool(self.combines_with_codes.data),
        )


class CodeForm(FlaskForm):
    """On the promotion's page beside its edit form, so its fields are prefixed ``code-``
    (the edit form has a ``usage_limit`` too: one id per page)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="code", **kwargs)

    code = StringField(
        "New code",
        validators=[DataRequired("Enter the code."), Length(max=40)],
        render_kw={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"},
    )
    usage_limit = WholeNumberField("Uses of this code", validators=[Optional()])


class GenerateForm(FlaskForm):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="generate", **kwargs)

    count = WholeNumberField("How many", validators=[DataRequired("Enter how many codes.")])
    prefix = StringField(
        "Prefix (optional)",
        validators=[Length(max=20)],
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )


class ActionForm(FlaskForm):
    pass


def with_choices(form: PromotionForm) -> None:
    form.category_ids.choices = [SelectChoice(i, label) for i, label in category_options(None)]


def field_for(exc: PromotionError) -> PromotionError:
    """The service names ``value``; the form has a field per kind of value."""
    if exc.field == "value":
        exc.field = "percent" if "percentage" in str(exc) else "amount"
    return exc


def edit_form(promotion: Promotion) -> PromotionForm:
    zone = store_details().tzinfo

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(zone).replace(tzinfo=None) if value is not None else None

    form = PromotionForm(
        formdata=None,  # the saved values, also when another form of the page was posted
        data={
            "name": promotion.name,
            "requires_code": "code" if promotion.requires_code else "automatic",
            "benefit": promotion.benefit,
            "percent": promotion.value if promotion.benefit == Benefit.PERCENT else None,
            "amount": decimal_text(promotion.value, promotion.currency)
            if promotion.benefit == Benefit.AMOUNT
            else "",
            "scope": promotion.scope,
            "category_ids": list(promotion.category_ids),
            "product_skus": ", ".join(manage.product_skus(promotion)),
            "min_subtotal": decimal_text(promotion.min_subtotal, promotion.currency)
            if promotion.min_subtotal
            else "",
            "starts_at": local(promotion.starts_at),
            "ends_at": local(promotion.ends_at),
            "usage_limit": promotion.usage_limit,
            "per_customer_limit": promotion.per_customer_limit,
            "combines_with_codes": promotion.combines_with_codes,
        },
    )
    with_choices(form)
    return form

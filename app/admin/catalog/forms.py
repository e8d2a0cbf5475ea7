"""Shapes of staff catalog input: products, variants, images, categories and stock.

Money is typed as decimal text ("19.99") and parsed exactly into integer minor units with
``Decimal`` — never a float. Rules that need the database (SKU uniqueness, tree cycles,
stock never below zero) live in the catalog services; the views turn their refusals into
form errors.
"""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.catalog.services import sku_taken
from app.core.forms import SelectField
from app.core.money import minor_units
from app.core.numbers import parse_int

MAX_PRICE_MAJOR = 1_000_000  # a price above a million is a typo, whatever the currency
MAX_STOCK = 1_000_000
_PRICE = re.compile(r"[0-9]{1,12}(?:[.,][0-9]{1,6})?")
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
MAX_OPTIONS = 8


def parse_price(text: str | None, currency: str = "EUR") -> int:
    """A catalog price: ``"19.99"`` → ``1999``, above zero, at most ``MAX_PRICE_MAJOR``."""
    return minor_units(text, currency, what="price", positive=True, max_major=MAX_PRICE_MAJOR)


def parse_options(text: str | None) -> dict[str, str]:
    """``"Size: M, Colour: Blue"`` (commas or new lines) → ``{"Size": "M", "Colour": "Blue"}``.

    The CSV import's spelling, ``Size=M;Colour=Blue``, is accepted too, so staff can paste
    either."""
    options: dict[str, str] = {}
    for part in re.split(r"[,;\n]", text or ""):
        part = part.strip()
        if not part:
            continue
        colon, equals = part.find(":"), part.find("=")
        marks = [i for i in (colon, equals) if i >= 0]
        mark = part[min(marks)] if marks else ":"
        name, sep, value = part.partition(mark)
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"Write each option as name: value, like Size: M (not “{part[:40]}”).")
        if len(name) > 40 or len(value) > 80:
            raise ValueError("Option names have at most 40 characters and values 80.")
        if name in options:
            raise ValueError(f"The option {name} is given twice.")
        options[name] = value
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"A variant has at most {MAX_OPTIONS} options.")
    return options


def options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in options.items())


class WholeNumberField(IntegerField):
    """An integer field with a plain-language error (and no 4,300-digit surprises)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        raw = str(valuelist[0]).strip().removeprefix("+")
        self.data = parse_int(raw, signed=True, minimum=-999_999_999, maximum=999_999_999)
        if self.data is None:
            raise ValueError("Enter a whole number, like 10.")


class PriceField(StringField):
    """Decimal text; ``minor`` holds the parsed integer after validation."""

    currency = "EUR"
    minor: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.minor = None
        if not (self.data or "").strip():
            return  # DataRequired/Optional decide
        try:
            self.minor = parse_price(self.data, self.currency)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class OptionsField(StringField):
    """``Size: M, Colour: Blue``; ``options`` holds the parsed dict after validation."""

    options: dict[str, str]

    def pre_validate(self, form: Any) -> None:
        try:
            self.options = parse_options(self.data)
        except ValueError as exc:
            self.options = {}
            raise ValidationError(str(exc)) from exc


def _sku(form: Any, field: Any) -> None:
    field.data = (field.data or "").strip()
    if field.data and not _SKU.fullmatch(field.data):
        raise ValidationError("SKUs use letters, digits and . _ / - (no spaces).")


SKU_VALIDATORS = [DataRequired("Enter a SKU."), Length(max=64), _sku]
OPTIONS_HINT = "For example Size: M, Colour: Blue. Leave empty for a product without options."


class ProductDetailsForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the product name."), Length(max=200)]
    )
    description = TextAreaField(
        "Description", validators=[Length(max=50_000)], render_kw={"rows": 8}
    )
    brand = StringField("Brand", validators=[Optional(), Length(max=120)])
    specifications = TextAreaField(
        "Specifications", validators=[Length(max=10_000)], render_kw={"rows": 5}
    )
    category_id = SelectField("Category", coerce=int, default=0, validate_choice=True)
    featured = BooleanField("Featured on the home page")


class SearchAppearanceFields:
    """What search results and link previews (Open Graph) show, when staff want other words
    than the name and the start of the description."""

    meta_title = StringField(
        "Title in search results",
        validators=[Optional(), Length(max=120)],
        filters=[lambda text: " ".join(text.split()) if text else text],
    )
    meta_description = TextAreaField(
        "Description in search results",
        validators=[Optional(), Length(max=320)],
        filters=[lambda text: " ".join(text.split()) if text else text],
        render_kw={"rows": 3},
    )


class ProductEditForm(ProductDetailsForm, SearchAppearanceFields):
    pass


def free_sku(form: FlaskForm, field: StringField) -> None:
    """A taken SKU is reported with the form's other errors (the database's unique index still
    decides a race between two staff)."""
    if field.data and sku_taken(field.data):
        raise ValidationError(f"The SKU {field.data} is already used by another variant.")


class NewProductForm(ProductDetailsForm):
    """A product is created with its first variant (a product always has one)."""

    sku = StringField("SKU", validators=[*SKU_VALIDATORS, free_sku])
    options = OptionsField("Options", validators=[Length(max=500)])
    price = PriceField("Price", validators=[DataRequired("Enter a price.")])
    stock = WholeNumberField(
        "Stock",
        default=0,
        validators=[Optional(), NumberRange(0, MAX_STOCK, "Stock is between 0 and 1,000,000.")],
    )


class VariantAddForm(FlaskForm):
    sku = StringField("SKU", validators=[*SKU_VALIDATORS, free_sku])
    options = OptionsField("Options", validators=[Length(max=500)])
    price = PriceField("Price", validators=[DataRequired("Enter a price.")])
    stock = WholeNumberField(
        "Stock",
        default=0,
        validators=[Optional(), NumberRange(0, MAX_STOCK, "Stock is between 0 and 1,000,000.")],
    )


class VariantEditForm(FlaskForm):
    sku = StringField("SKU", validators=SKU_VALIDATORS)
    options = OptionsField("Options", validators=[Length(max=500)])
    price = PriceField("Price", validators=[DataRequired("Enter a price.")])
    compare_at_price = PriceField("Compare-at price (optional)", validators=[Optional()])
    track_inventory = BooleanField("Track stock for this variant")

    def validate_compare_at_price(self, field: PriceField) -> None:
        minor, price = field.minor, self.price.minor
        if minor is not None and price is not None and minor <= price:
            raise ValidationError("The compare-at price must be above the price.")


class ImageUploadForm(FlaskForm):
    image = FileField("Image", validators=[FileRequired("Choose an image file to upload.")])
    alt_text = StringField("Alt text", validators=[Length(max=250)])


class ImageAltForm(FlaskForm):
    alt_text = StringField("Alt text", validators=[Length(max=250)])


class CategoryForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the category name."), Length(max=120)]
    )
    parent_id = SelectField("Parent category", coerce=int, default=0, validate_choice=True)


class CategoryEditForm(CategoryForm, SearchAppearanceFields):
    slug = StringField("URL name", validators=[Optional(), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=2000)])


STOCK_REASONS = {
    "receipt": "Receipt (goods received)",
    "count_correction": "Count correction",
    "damage": "Damage",
    "other": "Other (explain in the note)",
}


class StockAdjustForm(FlaskForm):
    reason = SelectField(
        "Reason",
        choices=[SelectChoice(value, label) for value, label in STOCK_REASONS.items()],
        validate_choice=True,
    )
    change = WholeNumberField(
        "Change in units",
        validators=[Optional(), NumberRange(-MAX_STOCK, MAX_STOCK, "Too large a change.")],
    )
    counted = WholeNumberField(
        "Counted quantity",
        validators=[
            Optional(),
            NumberRange(0, MAX_STOCK, "A count is between 0 and 1,000,000."),
        ],
    )
    note = StringField("Note", validators=[Length(max=250)])

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        reason = self.reason.data
        if reason == "count_correction":
            if self.counted.data is None:
                self.counted.errors.append("Enter the quantity you counted on the shelf.")
                return False
            return True
        change = self.change.data
        if not change:
            self.change.errors.append("Enter how many units change, like 10 or -2.")
            return False
        if reason == "receipt" and change < 0:
            self.change.errors.append("A receipt adds stock: enter a positive number.")
            return False
        if reason == "damage" and change > 0:
            self.change.errors.append("Damage removes stock: enter a negative number, like -2.")
            return False
        if reason == "other" and not (self.note.data or "").strip():
            self.note.errors.append("Say why the stock changes.")
            return False
        return True


class ThresholdForm(FlaskForm):
    threshold = WholeNumberField(
        "Low-stock threshold",
        validators=[
            InputRequired("Enter a threshold (0 turns the warning off)."),
            NumberRange(0, MAX_STOCK, "The threshold is between 0 and 1,000,000."),
        ],
    )

"""Promotions: voucher codes and automatic discounts (list, create, edit, pause, duplicate,
codes one by one or generated in bulk, how each did, CSV downloads). The rules are in
app/promotions/; every change is audited there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
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

from app import exports
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.catalog.common import category_options
from app.admin.catalog.forms import WholeNumberField
from app.core.money import decimal_text, minor_units
from app.core.shop_errors import show_on_form
from app.db import utcnow
from app.extensions import db
from app.promotions import manage
from app.promotions.models import Benefit, Promotion, Scope, VoucherCode
from app.promotions.services import PromotionError
from app.store.settings import store_details

INVALID = 422
PERMISSION = "promotions.manage"
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


def _choices(form: PromotionForm) -> None:
    form.category_ids.choices = [SelectChoice(i, label) for i, label in category_options(None)]


def _field_for(exc: PromotionError) -> PromotionError:
    """The service names ``value``; the form has a field per kind of value."""
    if exc.field == "value":
        exc.field = "percent" if "percentage" in str(exc) else "amount"
    return exc


def _promotion(promotion_id: int) -> Promotion:
    promotion = db.session.get(Promotion, promotion_id)
    if promotion is None:
        abort(404)
    return promotion


def status_of(promotion: Promotion) -> str:
    now = utcnow()
    if promotion.paused:
        return "Paused"
    if promotion.ends_at is not None and promotion.ends_at <= now:
        return "Ended"
    if promotion.starts_at is not None and promotion.starts_at > now:
        return "Scheduled"
    if promotion.usage_limit is not None and promotion.uses >= promotion.usage_limit:
        return "Used up"
    return "Active"


@bp.app_template_global()
def promotion_status(promotion: Promotion) -> str:
    return status_of(promotion)


@bp.get("/promotions")
@permission_required(PERMISSION)
def promotions() -> str:
    rows = manage.list_promotions()
    ids = [p.id for p in rows]
    return render_template(
        "admin/promotions/list.html",
        promotions=rows,
        usage=manage.usage(ids),
        codes=manage.code_summary(ids),
        describe=manage.describe,
    )


@bp.route("/promotions/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
def promotions_new() -> Any:
    form = PromotionForm()
    _choices(form)
    if form.validate_on_submit():
        try:
            promotion = manage.create_promotion(form.to_input(), actor_id=current_user.id)
        except PromotionError as exc:
            show_on_form(form, _field_for(exc))
        else:
            flash(f"Created the promotion {promotion.name}.", "success")
            return redirect(url_for("admin.promotions_detail", promotion_id=promotion.id), code=303)
    status = INVALID if form.errors or form.form_errors else 200
    page = render_template(
        "admin/promotions/form.html",
        form=form,
        promotion=None,
        store_zone=store_details().timezone,
    )
    return page, status


def _edit_form(promotion: Promotion) -> PromotionForm:
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
    _choices(form)
    return form


def _detail(promotion: Promotion, form: PromotionForm, **forms: Any) -> str:
    return render_template(
        "admin/promotions/detail.html",
        promotion=promotion,
        form=form,
        code_form=forms.get("code_form") or CodeForm(formdata=None),
        generate_form=forms.get("generate_form") or GenerateForm(formdata=None),
        action_form=ActionForm(),
        usage=manage.usage([promotion.id]).get(promotion.id),
        codes=manage.first_codes(promotion),
        code_count=manage.code_summary([promotion.id]).get(promotion.id),
        orders=manage.orders_with(promotion),
        describe=manage.describe,
        products=manage.product_names(promotion),
        store_zone=store_details().timezone,
    )


@bp.route("/promotions/<int:promotion_id>", methods=["GET", "POST"])
@permission_required(PERMISSION)
def promotions_detail(promotion_id: int) -> Any:
    promotion = _promotion(promotion_id)
    posted = request.method == "POST"
    form = PromotionForm() if posted else _edit_form(promotion)
    _choices(form)
    if posted and form.validate_on_submit():
        try:
            manage.update_promotion(promotion, form.to_input(), actor_id=current_user.id)
        except PromotionError as exc:
            show_on_form(form, _field_for(exc))
        else:
            flash(f"Saved the promotion {promotion.name}.", "success")
            return redirect(url_for("admin.promotions_detail", promotion_id=promotion.id), code=303)
    status = INVALID if form.errors or form.form_errors else 200
    return _detail(promotion, form), status


@bp.post("/promotions/<int:promotion_id>/pause")
@permission_required(PERMISSION)
def promotions_pause(promotion_id: int) -> Response:
    return _toggle(promotion_id, paused=True)


@bp.post("/promotions/<int:promotion_id>/resume")
@permission_required(PERMISSION)
def promotions_resume(promotion_id: int) -> Response:
    return _toggle(promotion_id, paused=False)


def _toggle(promotion_id: int, *, paused: bool) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    promotion = _promotion(promotion_id)
    manage.set_paused(promotion, paused, actor_id=current_user.id)
    word = "Paused" if paused else "Resumed"
    flash(f"{word} the promotion {promotion.name}.", "success")
    return redirect(url_for("admin.promotions_detail", promotion_id=promotion.id), code=303)


@bp.post("/promotions/<int:promotion_id>/duplicate")
@permission_required(PERMISSION)
def promotions_duplicate(promotion_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    copy = manage.duplicate(_promotion(promotion_id), actor_id=current_user.id)
    hint = " Add a code, then resume it." if copy.requires_code else " Resume it when ready."
    flash(f"Created {copy.name}, paused.{hint}", "success")
    return redirect(url_for("admin.promotions_detail", promotion_id=copy.id), code=303)


@bp.post("/promotions/<int:promotion_id>/codes")
@permission_required(PERMISSION)
def promotions_add_code(promotion_id: int) -> Any:
    promotion = _promotion(promotion_id)
    code_form = CodeForm()
    if code_form.validate_on_submit():
        try:
            voucher = manage.add_code(
                promotion,
                code_form.code.data or "",
                usage_limit=code_form.usage_limit.data,
                actor_id=current_user.id,
            )
        except PromotionError as exc:
            show_on_form(code_form, exc, default="code")
        else:
            flash(f"Added the code {voucher.code}.", "success")
            return redirect(url_for("admin.promotions_detail", promotion_id=promotion.id), code=303)
    return _detail(promotion, _edit_form(promotion), code_form=code_form), INVALID


@bp.post("/promotions/<int:promotion_id>/codes/generate")
@permission_required(PERMISSION)
def promotions_generate(promotion_id: int) -> Any:
    promotion = _promotion(promotion_id)
    generate_form = GenerateForm()
    if generate_form.validate_on_submit():
        try:
            made = manage.generate_codes(
                promotion,
                generate_form.count.data or 0,
                prefix=generate_form.prefix.data or "",
                actor_id=current_user.id,
            )
        except PromotionError as exc:
            show_on_form(generate_form, exc, default="count")
        else:
            flash(f"Generated {len(made)} single-use codes. Download them as CSV below.", "success")
            return redirect(url_for("admin.promotions_detail", promotion_id=promotion.id), code=303)
    return _detail(promotion, _edit_form(promotion), generate_form=generate_form), INVALID


def _csv(name: str, header: list[str], rows: Iterator[list[Any]]) -> Response:
    filename = exports.start_export(name, actor_id=current_user.id)
    response = Response(stream_with_context(exports.stream_csv(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/promotions/<int:promotion_id>/codes.csv")
@permission_required(PERMISSION)
def promotions_codes_csv(promotion_id: int) -> Response:
    promotion_id = _promotion(promotion_id).id

    def rows() -> Iterator[list[Any]]:  # read while streaming, after the audit's commit
        query = (
            sa.select(
                VoucherCode.code, VoucherCode.usage_limit, VoucherCode.uses, VoucherCode.created_at
            )
            .where(VoucherCode.promotion_id == promotion_id)
            .order_by(VoucherCode.id)
        )
        for row in db.session.execute(query.execution_options(yield_per=1000)):
            yield list(row)

    return _csv(
        f"promotion-{promotion_id}-codes", ["code", "usage_limit", "uses", "created_at"], rows()
    )


@bp.get("/promotions/report.csv")
@permission_required(PERMISSION)
def promotions_report_csv() -> Response:
    """One row per promotion (a few hundred at most): made before the audit's commit."""
    promotions = manage.list_promotions()
    ids = [p.id for p in promotions]
    usage, codes = manage.usage(ids), manage.code_summary(ids)
    currency = current_app.config["SHOP_CURRENCY"]
    rows = []
    for p in promotions:
        u = usage.get(p.id) or manage.Usage(p.id, 0, 0, 0, 0)
        c = codes.get(p.id)
        rows.append(
            [
                p.id,
                p.name,
                "code" if p.requires_code else "automatic",
                c.first if c else "",
                c.count if c else 0,
                manage.describe(p),
                status_of(p),
                p.starts_at,
                p.ends_at,
                p.usage_limit,
                u.paid_orders,
                decimal_text(u.revenue, currency),
                decimal_text(u.discount, currency),
                u.waiting,
            ]
        )
    header = [
        "id",
        "name",
        "kind",
        "first_code",
        "codes",
        "gives",
        "status",
        "starts_at",
        "ends_at",
        "usage_limit",
        "paid_orders",
        "revenue",
        "discount_given",
        "unpaid_orders_holding",
    ]
    return _csv("promotions", header, iter(rows))

"""Promotions: voucher codes and automatic discounts (list, create, edit, pause, duplicate,
codes one by one or generated in bulk, how each did, CSV downloads). The forms are in
app/admin/promotion_forms.py, the rules in app/promotions/; every change is audited there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from app import exports
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.downloads import FORMATS, export_response
from app.admin.promotion_forms import (
    ActionForm,
    CodeForm,
    GenerateForm,
    PromotionForm,
    edit_form,
    field_for,
    with_choices,
)
from app.core.shop_errors import show_on_form
from app.extensions import db
from app.promotions import manage
from app.promotions.models import Promotion, VoucherCode
from app.promotions.services import PromotionError
from app.store.settings import store_details

INVALID = 422
PERMISSION = "promotions.manage"


def _promotion(promotion_id: int) -> Promotion:
    promotion = db.session.get(Promotion, promotion_id)
    if promotion is None:
        abort(404)
    return promotion


@bp.app_template_global()
def promotion_status(promotion: Promotion) -> str:
    return manage.status_of(promotion)


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
    with_choices(form)
    if form.validate_on_submit():
        try:
            promotion = manage.create_promotion(form.to_input(), actor_id=current_user.id)
        except PromotionError as exc:
            show_on_form(form, field_for(exc))
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
    form = PromotionForm() if posted else edit_form(promotion)
    with_choices(form)
    if posted and form.validate_on_submit():
        try:
            manage.update_promotion(promotion, form.to_input(), actor_id=current_user.id)
        except PromotionError as exc:
            show_on_form(form, field_for(exc))
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
    return _detail(promotion, edit_form(promotion), code_form=code_form), INVALID


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
    return _detail(promotion, edit_form(promotion), generate_form=generate_form), INVALID


@bp.get(f"/promotions/<int:promotion_id>/codes.{FORMATS}")
@permission_required(PERMISSION)
def promotions_codes_download(promotion_id: int, fmt: str) -> Response:
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

    header = ["code", "usage_limit", "uses", "created_at"]
    return export_response(f"promotion-{promotion_id}-codes", header, rows, fmt)


@bp.get(f"/promotions/report.{FORMATS}")
@permission_required(PERMISSION)
def promotions_report(fmt: str) -> Response:
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
                manage.status_of(p),
                p.starts_at,
                p.ends_at,
                p.usage_limit,
                u.paid_orders,
                exports.format_money(u.revenue, currency),
                exports.format_money(u.discount, currency),
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
    return export_response("promotions", header, lambda: rows, fmt)

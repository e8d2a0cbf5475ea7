"""Store settings: store details, shipping methods, tax rates, low-stock default.

Every screen needs ``settings.edit`` (admins; the staff role has not got it). Forms post and
redirect; a form with mistakes comes back with the typed values and an error per field (422).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.settings.forms import (
    ShippingMethodForm,
    StoreSettingsForm,
    TaxRateForm,
    format_percent,
)
from app.core.money import decimal_text
from app.core.shop_errors import show_on_form
from app.extensions import db
from app.store import shipping_tax as services
from app.store.models import ShippingMethod, TaxRate
from app.store.settings import get_store_settings, store_details

T = TypeVar("T")

INVALID = 422


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


# --- Store details and defaults ------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings() -> Any:
    form = StoreSettingsForm()
    row = get_store_settings()
    if request.method == "GET":
        details = store_details()
        form.name.data = details.name
        form.legal_name.data = row.legal_name if row else ""
        form.address.data = "\n".join(details.address_lines)
        form.email.data = details.email
        form.phone.data = details.phone
        form.vat_number.data = details.vat_number
        form.timezone.data = details.timezone
        form.low_stock_default.data = row.low_stock_default if row else 5
        form.filterable_specifications.data = ", ".join(
            row.filterable_specifications or [] if row else []
        )
    elif form.validate_on_submit():
        changed = services.save_store_settings(
            {
                "name": form.name.data,
                "legal_name": form.legal_name.data or "",
                "address_lines": form.address_lines,
                "email": (form.email.data or "").lower(),
                "phone": form.phone.data or "",
                "vat_number": form.vat_number.data or "",
                "timezone": form.timezone.data,
                "low_stock_default": form.low_stock_default.data,
                "filterable_specifications": form.filterable_names,
            },
            apply_low_stock_to_all=bool(form.apply_low_stock_to_all.data),
            actor_id=current_user.id,
        )
        flash("Settings saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("admin.settings"), code=303)
    return _page(
        "admin/settings/general.html",
        INVALID if request.method == "POST" else 200,
        form=form,
        shop_name_config=current_app.config["SHOP_NAME"],
        saved_name=bool(row and row.name),
    )


# --- Shipping methods ---------------------------------------------------------------------


def _shipping_input(form: ShippingMethodForm) -> services.ShippingInput:
    position = form.position.data
    assert position is not None  # only called on a validated form (InputRequired, NumberRange)
    return services.ShippingInput(
        code=form.code.data,
        name=form.name.data,
        countries=form.country_codes,
        price=form.price_minor,
        free_over=form.free_over_minor,
        delivery_days=form.delivery_days.data or "",
        active=bool(form.active.data),
        position=position,
    )


def _fill_shipping_form(form: ShippingMethodForm, method: ShippingMethod) -> None:
    form.code.data = method.code
    form.name.data = method.name
    form.countries.data = ", ".join(method.countries or [])
    form.price.data = decimal_text(method.price, method.currency)
    form.free_over.data = decimal_text(method.free_over, method.currency)
    form.delivery_days.data = method.delivery_days
    form.position.data = method.position
    form.active.data = method.active


@bp.get("/settings/shipping")
@permission_required("settings.edit")
def settings_shipping() -> str:
    methods = services.list_shipping_methods()
    return render_template(
        "admin/settings/shipping_list.html",
        methods=methods,
        format_amount=decimal_text,
        any_active=any(m.active for m in methods),
    )


@bp.route("/settings/shipping/new", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings_shipping_new() -> Any:
    currency = current_app.config["SHOP_CURRENCY"]
    form = ShippingMethodForm(currency=currency)
    if form.validate_on_submit():
        try:
            method = services.create_shipping_method(
                _shipping_input(form), currency=currency, actor_id=current_user.id
            )
        except services.SettingsError as exc:
            show_on_form(form, exc)
        else:
            flash(f"Shipping method {method.name} added.", "success")
            return redirect(url_for("admin.settings_shipping"), code=303)
    return _page(
        "admin/settings/shipping_form.html",
        INVALID if request.method == "POST" else 200,
        form=form,
        method=None,
        currency=currency,
    )


@bp.route("/settings/shipping/<int:method_id>", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings_shipping_edit(method_id: int) -> Any:
    method = db.get_or_404(ShippingMethod, method_id)
    form = ShippingMethodForm(currency=method.currency)
    if request.method == "GET":
        _fill_shipping_form(form, method)
    elif form.validate_on_submit():
        try:
            changed = services.update_shipping_method(
                method, _shipping_input(form), actor_id=current_user.id
            )
        except services.SettingsError as exc:
            show_on_form(form, exc)
        else:
            flash(f"{method.name} saved." if changed else "Nothing changed.", "success")
            return redirect(url_for("admin.settings_shipping"), code=303)
    return _page(
        "admin/settings/shipping_form.html",
        INVALID if request.method == "POST" else 200,
        form=form,
        method=method,
        currency=method.currency,
        used=services.orders_using(method),
    )


@bp.post("/settings/shipping/<int:method_id>/delete")
@permission_required("settings.edit")
def settings_shipping_delete(method_id: int) -> Any:
    method = db.get_or_404(ShippingMethod, method_id)
    try:
        services.delete_shipping_method(method, actor_id=current_user.id)
    except services.SettingsError as exc:
        form = ShippingMethodForm(formdata=None, currency=method.currency)
        _fill_shipping_form(form, method)
        return _page(
            "admin/settings/shipping_form.html",
            409,
            form=form,
            method=method,
            currency=method.currency,
            used=services.orders_using(method),
            delete_error=str(exc),
        )
    flash(f"Shipping method {method.name} deleted.", "success")
    return redirect(url_for("admin.settings_shipping"), code=303)


# --- Tax rates ----------------------------------------------------------------------------


def _tax_input(form: TaxRateForm) -> services.TaxInput:
    return services.TaxInput(
        country=form.country.data,
        region=form.region.data or "",
        name=form.name.data,
        rate_bp=form.rate_bp,
        inclusive=bool(form.inclusive.data),
    )


@bp.get("/settings/tax")
@permission_required("settings.edit")
def settings_tax() -> str:
    return render_template(
        "admin/settings/tax_list.html",
        rates=services.list_tax_rates(),
        format_percent=format_percent,
    )


@bp.route("/settings/tax/new", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings_tax_new() -> Any:
    form = TaxRateForm()
    if form.validate_on_submit():
        try:
            rate = services.create_tax_rate(_tax_input(form), actor_id=current_user.id)
        except services.SettingsError as exc:
            show_on_form(form, exc)
        else:
            flash(f"{rate.name} for {rate.country} added.", "success")
            return redirect(url_for("admin.settings_tax"), code=303)
    return _page(
        "admin/settings/tax_form.html",
        INVALID if request.method == "POST" else 200,
        form=form,
        rate=None,
    )


@bp.route("/settings/tax/<int:rate_id>", methods=["GET", "POST"])
@permission_required("settings.edit")
def settings_tax_edit(rate_id: int) -> Any:
    rate = db.get_or_404(TaxRate, rate_id)
    form = TaxRateForm()
    if request.method == "GET":
        form.country.data = rate.country
        form.region.data = rate.region
        form.name.data = rate.name
        form.rate.data = format_percent(rate.rate_bp)
        form.inclusive.data = rate.inclusive
    elif form.validate_on_submit():
        try:
            changed = services.update_tax_rate(rate, _tax_input(form), actor_id=current_user.id)
        except services.SettingsError as exc:
            show_on_form(form, exc)
        else:
            flash("Tax rate saved." if changed else "Nothing changed.", "success")
            return redirect(url_for("admin.settings_tax"), code=303)
    return _page(
        "admin/settings/tax_form.html",
        INVALID if request.method == "POST" else 200,
        form=form,
        rate=rate,
    )


@bp.post("/settings/tax/<int:rate_id>/delete")
@permission_required("settings.edit")
def settings_tax_delete(rate_id: int) -> Response:
    rate = db.get_or_404(TaxRate, rate_id)
    label = f"{rate.name} for {rate.country}{' / ' + rate.region if rate.region else ''}"
    services.delete_tax_rate(rate, actor_id=current_user.id)
    flash(f"{label} deleted.", "success")
    return redirect(url_for("admin.settings_tax"), code=303)

"""Staff inventory: stock per variant (on hand, reserved, available, threshold), adjustments
with a reason, the full movement ledger and the low-stock threshold. Every view needs
``stock.adjust``; stock only changes through the catalog services' conditional UPDATEs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.catalog.common import is_partial
from app.admin.catalog.forms import STOCK_REASONS, StockAdjustForm, ThresholdForm
from app.admin.listing import paginate, render_listing, str_arg
from app.catalog.models import Product, StockMovement, Variant
from app.catalog.services import CatalogError
from app.core.shop_errors import show_on_form
from app.extensions import db
from app.inventory import waitlist
from app.inventory.services import (
    InsufficientStock,
    set_low_stock_threshold,
    staff_adjustment,
)

AVAILABLE = Variant.stock_on_hand - Variant.reserved
REASON_LABELS = {
    **STOCK_REASONS,
    "initial": "Initial stock",
    "adjustment": "Adjustment",
    "reservation": "Reserved for an order",
    "release": "Reservation released",
    "sale": "Sale",
    "return": "Return",
}


@bp.get("/inventory")
@permission_required("stock.adjust")
def inventory() -> str:
    q = str_arg("q", limit=100)
    low = str_arg("low", choices=("1",)) == "1"
    stmt = sa.select(Variant).join(Product).options(joinedload(Variant.product))
    if q:
        needle = q.lower()
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Variant.sku).contains(needle, autoescape=True),
                sa.func.lower(Product.name).contains(needle, autoescape=True),
            )
        )
    if low:
        stmt = stmt.where(
            Variant.track_inventory.is_(True), Variant.low_stock_threshold >= AVAILABLE
        )
    page = paginate(
        stmt,
        sorts={
            "product": Product.name,
            "sku": Variant.sku,
            "available": AVAILABLE,
            "on_hand": Variant.stock_on_hand,
        },
        default="available",
        tiebreak=Variant.id,
    )
    return render_listing(
        "admin/inventory/list.html",
        "admin/inventory/_table.html",
        page=page,
        q=q,
        low=low,
        oob_flash=is_partial(),
    )


def _variant_page(
    variant: Variant,
    *,
    form: StockAdjustForm | None = None,
    threshold_form: ThresholdForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    form = form or StockAdjustForm(formdata=None)
    threshold_form = threshold_form or ThresholdForm(
        formdata=None, threshold=variant.low_stock_threshold
    )
    stmt = (
        sa.select(StockMovement, User.name)
        .outerjoin(User, User.id == StockMovement.actor_id)
        .where(StockMovement.variant_id == variant.id)
    )
    page = paginate(
        stmt,
        sorts={"created": StockMovement.created_at},
        default="-created",
        scalars=False,
        tiebreak=StockMovement.id,
    )
    if status == 200 and is_partial():
        return render_template(
            "admin/inventory/_movements.html",
            page=page,
            variant=variant,
            reason_labels=REASON_LABELS,
        ), 200
    body = render_template(
        "admin/inventory/variant.html",
        variant=variant,
        product=variant.product,
        form=form,
        threshold_form=threshold_form,
        page=page,
        reason_labels=REASON_LABELS,
        waiting=waitlist.waiting_for([variant.id]).get(variant.id, []),
    )
    return body, status


def _not_below_zero(variant_id: int) -> str:
    on_hand, reserved = db.session.execute(
        sa.select(Variant.stock_on_hand, Variant.reserved).where(Variant.id == variant_id)
    ).one()
    if reserved:
        return (
            f"Stock cannot go below zero: {on_hand} on hand, of which {reserved} are reserved "
            f"for unpaid orders, so at most {on_hand - reserved} can be removed."
        )
    return f"Stock cannot go below zero: there are {on_hand} on hand."


@bp.route("/inventory/<int:variant_id>", methods=["GET", "POST"])
@permission_required("stock.adjust")
def inventory_variant(variant_id: int) -> Any:
    variant = db.get_or_404(Variant, variant_id)
    if request.method == "GET":
        return _variant_page(variant)
    form = StockAdjustForm()
    if not form.validate():
        return _variant_page(variant, form=form, status=422)
    reason, note = form.reason.data, (form.note.data or "").strip()
    try:
        delta = staff_adjustment(
            variant.id,
            reason=reason,
            change=form.change.data,
            counted=form.counted.data,
            note=note,
            actor_id=current_user.id,
        )
    except InsufficientStock as exc:
        message = str(exc) if reason == "count_correction" else _not_below_zero(variant.id)
        (form.counted if reason == "count_correction" else form.change).errors.append(message)
        return _variant_page(variant, form=form, status=422)
    except CatalogError as exc:
        show_on_form(form, exc)
        return _variant_page(variant, form=form, status=422)
    if delta:
        db.session.refresh(variant)
        flash(
            f"Stock of {variant.sku} changed by {delta:+d}; {variant.stock_on_hand} on hand now.",
            "success",
        )
    else:
        flash("The count matches the stock on hand; nothing changed.", "info")
    return redirect(url_for("admin.inventory_variant", variant_id=variant.id))


@bp.post("/inventory/<int:variant_id>/threshold")
@permission_required("stock.adjust")
def inventory_threshold(variant_id: int) -> Any:
    variant = db.get_or_404(Variant, variant_id)
    form = ThresholdForm()
    if not form.validate():
        return _variant_page(variant, threshold_form=form, status=422)
    threshold = form.threshold.data
    assert threshold is not None  # validated: InputRequired, NumberRange
    set_low_stock_threshold(variant, threshold, actor_id=current_user.id)
    flash(f"Low-stock threshold of {variant.sku} is {variant.low_stock_threshold}.", "success")
    return redirect(url_for("admin.inventory_variant", variant_id=variant.id))

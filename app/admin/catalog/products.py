"""Staff products: the list (search, filters, sort, bulk actions), create and edit with
variants, and the life cycle (draft → published → archived). Images are in
catalog_images.py. Every view needs ``catalog.edit`` and calls the catalog services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from app.accounts.audit import audit
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.catalog.common import (
    category_choices,
    category_from_choice,
    category_options,
    is_partial,
)
from app.admin.catalog.forms import (
    ImageUploadForm,
    NewProductForm,
    ProductDetailsForm,
    ProductEditForm,
    VariantAddForm,
    VariantEditForm,
    options_text,
)
from app.admin.listing import int_arg, paginate, render_listing, str_arg
from app.admin.people.common import selected_ids
from app.catalog.models import PriceChange, Product, ProductStatus, Variant
from app.catalog.services import (
    CatalogError,
    VariantInput,
    allowed_transitions,
    create_product,
    create_variant,
    delete_draft_product,
    product_was_ordered,
    sku_taken,
    transition_product_status,
    update_product,
    update_variant,
)
from app.catalog.specifications import format_specifications, parse_specifications
from app.core.money import decimal_text
from app.core.redirects import local_url
from app.core.shop_errors import show_on_form
from app.extensions import db
from app.inventory import waitlist
from app.store.settings import low_stock_default

STATUSES = tuple(ProductStatus)
TRANSITION_LABELS = {
    ProductStatus.PUBLISHED: "Publish",
    ProductStatus.ARCHIVED: "Archive",
    ProductStatus.DRAFT: "Back to draft",
}
MAX_BULK = 500


def _actor() -> int:
    return current_user.id


# --- list --------------------------------------------------------------------------------


@bp.get("/products")
@permission_required("catalog.edit")
def products() -> str:
    q = str_arg("q", limit=100)
    status = str_arg("status", choices=STATUSES)
    category_id = int_arg("category")
    stmt = sa.select(Product).options(joinedload(Product.category), selectinload(Product.variants))
    if q:
        needle = q.lower()
        sku_match = sa.select(Variant.product_id).where(
            sa.func.lower(Variant.sku).contains(needle, autoescape=True)
        )
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Product.name).contains(needle, autoescape=True),
                Product.id.in_(sku_match),
            )
        )
    if status:
        stmt = stmt.where(Product.status == status)
    if category_id:
        stmt = stmt.where(Product.category_id == category_id)
    page = paginate(
        stmt,
        sorts={
            "name": Product.name,
            "status": Product.status,
            "price": Product.price_min,
            "updated": Product.updated_at,
            "created": Product.created_at,
        },
        default="-updated",
        tiebreak=Product.id,
    )
    return render_listing(
        "admin/products/list.html",
        "admin/products/_table.html",
        page=page,
        q=q,
        status=status,
        category_id=category_id,
        statuses=STATUSES,
        categories=category_options(),
        transitions=allowed_transitions,
        transition_labels=TRANSITION_LABELS,
        oob_flash=is_partial(),
    )


@bp.post("/products/bulk")
@permission_required("catalog.edit")
def products_bulk() -> Response:
    action = request.form.get("action", "")
    target = {"publish": ProductStatus.PUBLISHED, "archive": ProductStatus.ARCHIVED}.get(action)
    back = local_url(request.form.get("next"), prefix="/admin/products") or url_for(
        "admin.products"
    )
    ids = sorted(set(selected_ids()))[:MAX_BULK]
    if target is None or not ids:
        flash("Choose products and an action.", "error")
        return redirect(back)
    done, skipped = [], 0
    rows = db.session.execute(
        sa.select(Product).where(Product.id.in_(ids)).order_by(Product.id)
    ).scalars()
    for product in rows:
        if product.status == target:
            continue
        if target not in allowed_transitions(product.status):
            skipped += 1
            continue
        transition_product_status(product, target, actor_id=_actor(), note="bulk")
        done.append(product.id)
    verb = "published" if target == ProductStatus.PUBLISHED else "archived"
    message = f"{len(done)} product{'s' if len(done) != 1 else ''} {verb}."
    if skipped:
        message += f" {skipped} could not be {verb} from their current status."
    flash(message, "success" if done else "info")
    return redirect(back)


# --- create and edit ---------------------------------------------------------------------


def _details_choices(form: ProductDetailsForm) -> None:
    form.category_id.choices = category_choices("No category")


@bp.route("/products/new", methods=["GET", "POST"])
@permission_required("catalog.edit")
def products_new() -> Any:
    form = NewProductForm()
    _details_choices(form)
    if form.validate_on_submit():
        sku = form.sku.data
        if sku_taken(sku):
            form.sku.errors.append(f"The SKU {sku} is already used by another variant.")
        else:
            try:
                product = create_product(
                    form.name.data,
                    [
                        VariantInput(
                            sku=sku,
                            price=form.price.minor or 0,
                            options=form.options.options,
                            stock=form.stock.data or 0,
                        )
                    ],
                    category=category_from_choice(form.category_id.data),
                    description_html=form.description.data or "",
                    brand=form.brand.data or "",
                    attributes=parse_specifications(form.specifications.data or ""),
                    featured=form.featured.data,
                    actor_id=_actor(),
                )
            except CatalogError as exc:
                show_on_form(form, exc)
            else:
                audit(
                    "catalog.product_create",
                    actor_id=_actor(),
                    target=f"product:{product.id}",
                    detail=f"{product.name[:200]} (draft, SKU {sku})",
                )
                flash(
                    f"Created the draft “{product.name}”. "
                    "Add variants and images, then publish it.",
                    "success",
                )
                return redirect(url_for("admin.products_edit", product_id=product.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/products/new.html", form=form), status


def _edit_page(
    product: Product,
    *,
    form: ProductEditForm | None = None,
    variant_form: VariantAddForm | None = None,
    image_form: ImageUploadForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    if form is None:
        form = ProductEditForm(
            formdata=None,
            name=product.name,
            description=product.description_html,
            brand=product.brand,
            specifications=format_specifications(product.attributes),
            category_id=product.category_id or 0,
            featured=product.featured,
            meta_title=product.meta_title,
            meta_description=product.meta_description,
        )
    _details_choices(form)
    variant_form = variant_form or VariantAddForm(formdata=None)
    image_form = image_form or ImageUploadForm(formdata=None)
    variant_ids = [v.id for v in product.variants]
    history: Sequence[sa.Row[PriceChange, str, str]] = []
    if variant_ids:
        from app.accounts.models import User

        history = db.session.execute(
            sa.select(PriceChange, Variant.sku, User.name)
            .join(Variant, Variant.id == PriceChange.variant_id)
            .outerjoin(User, User.id == PriceChange.actor_id)
            .where(PriceChange.variant_id.in_(variant_ids))
            .order_by(PriceChange.created_at.desc(), PriceChange.id.desc())
            .limit(100)
        ).all()
    ordered = product.status == ProductStatus.DRAFT and product_was_ordered(product.id)
    body = render_template(
        "admin/products/edit.html",
        product=product,
        form=form,
        variant_form=variant_form,
        image_form=image_form,
        history=history,
        transitions=allowed_transitions(product.status),
        transition_labels=TRANSITION_LABELS,
        can_delete=product.status == ProductStatus.DRAFT and not ordered,
        waiting=waitlist.waiting_for([v.id for v in product.variants]),
    )
    return body, status


def get_product(product_id: int) -> Product:
    return db.get_or_404(Product, product_id)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@permission_required("catalog.edit")
def products_edit(product_id: int) -> Any:
    product = get_product(product_id)
    if request.method == "GET":
        return _edit_page(product)
    form = ProductEditForm()
    _details_choices(form)
    if not form.validate():
        return _edit_page(product, form=form, status=422)
    try:
        changed = update_product(
            product,
            name=form.name.data,
            description_html=form.description.data or "",
            brand=form.brand.data or "",
            category=category_from_choice(form.category_id.data),
            featured=form.featured.data,
            attributes=parse_specifications(form.specifications.data or ""),
            meta_title=form.meta_title.data or "",
            meta_description=form.meta_description.data or "",
            actor_id=_actor(),
        )
    except CatalogError as exc:
        show_on_form(form, exc)
        return _edit_page(product, form=form, status=422)
    flash("Saved the product details." if changed else "Nothing changed.", "success")
    return redirect(url_for("admin.products_edit", product_id=product.id))


@bp.post("/products/<int:product_id>/status")
@permission_required("catalog.edit")
def products_status(product_id: int) -> Response:
    product = get_product(product_id)
    target = request.form.get("status", "")
    back = local_url(request.form.get("next"), prefix="/admin/products") or url_for(
        "admin.products_edit", product_id=product.id
    )
    try:
        transition_product_status(product, target, actor_id=_actor())
    except CatalogError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"“{product.name}” is now {target}.", "success")
    return redirect(back)


@bp.post("/products/<int:product_id>/delete")
@permission_required("catalog.edit")
def products_delete(product_id: int) -> Response:
    product = get_product(product_id)
    name, ident = product.name, product.id
    try:
        delete_draft_product(product, actor_id=_actor())
    except CatalogError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.products_edit", product_id=ident))
    flash(f"Deleted the draft “{name}”.", "success")
    return redirect(url_for("admin.products"))


# --- variants ----------------------------------------------------------------------------


@bp.post("/products/<int:product_id>/variants")
@permission_required("catalog.edit")
def products_variant_add(product_id: int) -> Any:
    product = get_product(product_id)
    form = VariantAddForm()
    form.price.currency = product.currency
    if form.validate():
        try:
            variant = create_variant(
                product,
                VariantInput(
                    sku=form.sku.data,
                    price=form.price.minor or 0,
                    options=form.options.options,
                    stock=form.stock.data or 0,
                ),
                low_stock_threshold=low_stock_default(),
                actor_id=_actor(),
            )
        except CatalogError as exc:
            show_on_form(form, exc, default="sku")
        else:
            flash(f"Added the variant {variant.sku}.", "success")
            return redirect(url_for("admin.products_edit", product_id=product.id))
    db.session.expire(product, ["variants"])
    return _edit_page(product, variant_form=form, status=422)


def _variant_of(product: Product, variant_id: int) -> Variant:
    variant = db.get_or_404(Variant, variant_id)
    if variant.product_id != product.id:
        abort(404)
    return variant


@bp.route("/products/<int:product_id>/variants/<int:variant_id>", methods=["GET", "POST"])
@permission_required("catalog.edit")
def products_variant_edit(product_id: int, variant_id: int) -> Any:
    product = get_product(product_id)
    variant = _variant_of(product, variant_id)
    if request.method == "GET":
        form = VariantEditForm(
            formdata=None,
            sku=variant.sku,
            options=options_text(variant.options),
            price=decimal_text(variant.price, variant.currency),
            compare_at_price=decimal_text(variant.compare_at_price, variant.currency),
            track_inventory=variant.track_inventory,
        )
        return render_template(
            "admin/products/variant.html", product=product, variant=variant, form=form
        )
    form = VariantEditForm()
    form.price.currency = form.compare_at_price.currency = variant.currency
    if form.validate():
        try:
            changed = update_variant(
                variant,
                sku=form.sku.data,
                options=form.options.options,
                price=form.price.minor or 0,
                compare_at_price=form.compare_at_price.minor,
                track_inventory=form.track_inventory.data,
                actor_id=_actor(),
            )
        except CatalogError as exc:
            show_on_form(form, exc, default="price")
        else:
            flash(f"Saved the variant {variant.sku}." if changed else "Nothing changed.", "success")
            return redirect(url_for("admin.products_edit", product_id=product.id))
        db.session.refresh(variant)
    return (
        render_template("admin/products/variant.html", product=product, variant=variant, form=form),
        422,
    )

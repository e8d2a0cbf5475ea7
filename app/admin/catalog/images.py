"""Staff product images: upload (through the catalog's re-encoding pipeline), alt text,
order and deletion. Every view needs ``catalog.edit``."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.catalog.forms import ImageAltForm, ImageUploadForm
from app.admin.catalog.products import _edit_page, get_product
from app.catalog.images import (
    ImageRejected,
    add_product_image,
    delete_product_image,
    max_image_bytes,
    move_product_image,
    set_image_alt_text,
)
from app.catalog.models import Product, ProductImage
from app.extensions import db
from app.file_storage import StorageError


def _image_of(product: Product, image_id: int) -> ProductImage:
    image = db.get_or_404(ProductImage, image_id)
    if image.product_id != product.id:
        abort(404)
    return image


def _back(product: Product) -> Response:
    return redirect(url_for("admin.products_edit", product_id=product.id) + "#images")


@bp.post("/products/<int:product_id>/images")
@permission_required("catalog.edit")
def products_image_upload(product_id: int) -> Any:
    product = get_product(product_id)
    form = ImageUploadForm()
    if form.validate():
        upload = form.image.data
        data = upload.read(max_image_bytes() + 1)
        try:
            add_product_image(product, data, form.alt_text.data or "", actor_id=current_user.id)
        except ImageRejected as exc:
            form.image.errors.append(str(exc))
        except StorageError:
            form.image.errors.append("The image could not be stored just now. Please try again.")
        else:
            flash("Added the image.", "success")
            return _back(product)
    return _edit_page(product, image_form=form, status=422)


@bp.route("/products/<int:product_id>/images/<int:image_id>", methods=["GET", "POST"])
@permission_required("catalog.edit")
def products_image_alt(product_id: int, image_id: int) -> Any:
    product = get_product(product_id)
    image = _image_of(product, image_id)
    if request.method == "GET":
        form = ImageAltForm(formdata=None, alt_text=image.alt_text)
        return render_template("admin/products/image.html", product=product, image=image, form=form)
    form = ImageAltForm()
    if not form.validate():
        return (
            render_template("admin/products/image.html", product=product, image=image, form=form),
            422,
        )
    set_image_alt_text(image, form.alt_text.data or "", actor_id=current_user.id)
    flash("Saved the alt text.", "success")
    return _back(product)


@bp.post("/products/<int:product_id>/images/<int:image_id>/move")
@permission_required("catalog.edit")
def products_image_move(product_id: int, image_id: int) -> Response:
    product = get_product(product_id)
    image = _image_of(product, image_id)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""), 0)
    if move_product_image(image, offset, actor_id=current_user.id):
        flash(f"Moved the picture {request.form.get('direction')}.", "success")
    else:
        flash("That picture cannot move further that way.", "info")
    return _back(product)


@bp.post("/products/<int:product_id>/images/<int:image_id>/delete")
@permission_required("catalog.edit")
def products_image_delete(product_id: int, image_id: int) -> Response:
    product = get_product(product_id)
    image = _image_of(product, image_id)
    delete_product_image(image, actor_id=current_user.id)
    flash("Deleted the image.", "success")
    return _back(product)

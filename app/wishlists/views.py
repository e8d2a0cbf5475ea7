"""The wishlist page and its buttons. Every action is a form POST that redirects (no
JavaScript needed); with htmx the toggle answers with the button itself, pressed or not."""

from __future__ import annotations

from flask import flash, get_template_attribute, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app.cart.services import CartError, add_item
from app.cart.views import current_cart
from app.catalog.models import Product, ProductStatus
from app.core.numbers import parse_id
from app.core.redirects import back_url
from app.extensions import db, htmx, limiter
from app.wishlists import bp, services
from app.wishlists.services import WishlistError


@bp.get("")
@login_required
def view() -> str:
    return render_template("wishlist/list.html", items=services.items(current_user.id))


@bp.post("/toggle")
@limiter.limit("60 per minute")
def toggle() -> Response | str:
    product_id = parse_id(request.form.get("product_id"))
    product = db.session.get(Product, product_id) if product_id is not None else None
    if product is not None and product.status != ProductStatus.PUBLISHED:
        product = None  # drafts and archived products do not exist for shoppers
    if not current_user.is_authenticated:
        flash("Sign in to keep products on your wishlist.", "info")
        back = url_for("catalog.product_detail", slug=product.slug) if product else None
        target = url_for("accounts.login", next=back) if back else url_for("accounts.login")
        if htmx:
            response = Response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, code=303)
    try:
        if product is None:
            raise WishlistError("That product is not sold any more.")
        product, saved = services.toggle(current_user.id, product.id)
    except WishlistError as exc:
        if htmx and product is not None:  # the button stays (to try again), the reason beside it
            button = get_template_attribute("macros/catalog.html", "wishlist_button")
            pressed = product.id in services.saved_ids(current_user.id, [product.id])
            shown = button(product, generate_csrf(), pressed=pressed, error=str(exc))
            return str(shown)
        flash(str(exc), "error")
        return redirect(back_url(url_for("wishlist.view")), code=303)
    if htmx:  # the button again, pressed or not (focus stays on it: data-focus-key)
        button = get_template_attribute("macros/catalog.html", "wishlist_button")
        return str(button(product, generate_csrf(), pressed=saved))
    said = "Saved {} to your wishlist." if saved else "Removed {} from your wishlist."
    flash(said.format(product.name), "success")
    return redirect(back_url(url_for("wishlist.view")), code=303)


@bp.post("/<int:product_id>/remove")
@login_required
def remove(product_id: int) -> Response:
    product = db.session.get(Product, product_id)
    if services.remove(current_user.id, product_id) and product is not None:
        flash(f"Removed {product.name} from your wishlist.", "info")
    return redirect(url_for("wishlist.view"), code=303)


@bp.post("/<int:product_id>/move")
@login_required
def move(product_id: int) -> Response:
    """Into the cart: a product with one option goes straight in; with several, the shopper
    chooses on its page (it stays on the wishlist until then)."""
    product = db.session.get(Product, product_id)
    if product is None or product_id not in services.saved_ids(current_user.id, [product_id]):
        flash("That product is not on your wishlist.", "error")
        return redirect(url_for("wishlist.view"), code=303)
    buyable = [v for v in product.variants if v.is_available]
    if len(product.variants) != 1:
        flash(f"Choose the option of {product.name} you want, then add it to your cart.", "info")
        return redirect(url_for("catalog.product_detail", slug=product.slug), code=303)
    if not buyable:
        flash(f"{product.name} is sold out; it stays on your wishlist.", "error")
        return redirect(url_for("wishlist.view"), code=303)
    try:
        change = add_item(current_cart(create=True), buyable[0].id, 1)
    except CartError as exc:
        flash(str(exc), "error")
        return redirect(url_for("wishlist.view"), code=303)
    services.remove(current_user.id, product_id)
    for message in change.messages:
        flash(message, "warning")
    flash(f"Moved {product.name} to your cart.", "success")
    return redirect(url_for("wishlist.view"), code=303)

"""Cart pages. Every action is a form POST that redirects (no JavaScript needed); with htmx
the same route answers with the cart partial and out-of-band updates of the mini-cart and
messages."""

from __future__ import annotations

from typing import Literal, overload

from flask import (
    abort,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.cart import bp
from app.cart.models import Cart
from app.cart.queries import build_cart_view, count_items
from app.cart.services import (
    CartError,
    add_item,
    apply_code,
    clear_cart,
    find_cart,
    get_or_create_cart,
    move_to_cart,
    new_guest_token,
    parse_quantity,
    remove_code,
    remove_line,
    remove_saved,
    save_for_later,
    set_quantity,
)
from app.catalog.variants import variant_meant
from app.core.numbers import parse_id
from app.core.redirects import back_url
from app.extensions import db, htmx, limiter
from app.promotions.services import PromotionError
from app.ratelimit import VOUCHER_LIMIT, VOUCHER_SCOPE, limiter_key

GUEST_KEY = "guest_cart"


def _owner() -> tuple[int | None, str | None]:
    if current_user.is_authenticated:
        return current_user.id, None
    return None, session.get(GUEST_KEY)


@overload
def current_cart(*, create: Literal[True]) -> Cart: ...


@overload
def current_cart(*, create: bool = False, lock: bool = False) -> Cart | None: ...


def current_cart(*, create: bool = False, lock: bool = False) -> Cart | None:
    """The visitor's cart (``create``: made if there is none). ``lock``: read with its row
    lock, as paying takes it (one statement instead of a read and a lock)."""
    if lock and not create:  # always read again: an earlier read had no lock
        user_id, token = _owner()
        g.cart = find_cart(user_id=user_id, token=token, lock=True)
        return g.cart
    if "cart" in g and (g.cart is not None or not create):
        return g.cart
    user_id, token = _owner()
    cart: Cart | None
    if create:
        new = user_id is None and not token
        if new:
            token = session[GUEST_KEY] = new_guest_token()
        cart = get_or_create_cart(user_id=user_id, token=token, new=new)
    else:
        cart = find_cart(user_id=user_id, token=token)
    g.cart = cart
    return cart


def mini_cart_count() -> int:
    if "cart_item_count" in g:  # the page built the cart's view already
        return int(g.cart_item_count)
    user_id, token = _owner()
    if user_id is None and not token:
        return 0  # no cart, no query
    cart = current_cart()
    return count_items(cart.id) if cart else 0


@bp.app_context_processor
def _mini_cart() -> dict[str, object]:
    return {"mini_cart_count": mini_cart_count}


def _back() -> str:
    return back_url(url_for("cart.view_cart"))


def _respond(default_redirect: str | None = None) -> Response | str:
    """HTMX: the cart body (on the cart page) or the mini-cart, with messages out of band.
    Without JavaScript: redirect (POST/redirect/GET) and show the flashed messages there."""
    if htmx:
        messages = get_flashed_messages(with_categories=True)
        if htmx.target == "cart-body":
            return render_template(
                "cart/partials/cart_response.html",
                view=build_cart_view(current_cart()),
                messages=messages,
            )
        return render_template("cart/partials/mini_cart_response.html", messages=messages)
    return redirect(default_redirect or url_for("cart.view_cart"), code=303)


@bp.get("")
def view_cart() -> str:
    view = build_cart_view(current_cart())
    g.cart_item_count = view.item_count  # the header's count, without asking again
    return render_template("cart/cart.html", view=view)


@bp.get("/mini", endpoint="mini_panel")
def mini_panel() -> Response | str:
    """The header cart's panel (htmx, when it opens): lines and subtotal."""
    if not htmx:
        return redirect(url_for("cart.view_cart"))
    view = build_cart_view(current_cart())
    return render_template("cart/partials/mini_cart_panel.html", view=view)


def _added() -> Response | str:
    """After an add: with htmx, the messages beside the form's button (where the shopper is
    looking, also far down a phone screen) and the header cart out of band; without
    JavaScript, back to the page with the messages flashed."""
    if htmx:
        messages = get_flashed_messages(with_categories=True)
        return render_template("cart/partials/add_response.html", messages=messages)
    return _respond(_back())


@bp.post("/add", endpoint="add_item")
def add_item_view() -> Response | str:
    variant_id = parse_id(request.form.get("variant_id"))
    if variant_id is None:
        flash("Choose a product option first.", "error")
        return _added()
    variant_id = variant_meant(variant_id, request.form)
    try:
        quantity = parse_quantity(request.form.get("quantity", "1"))
        cart = current_cart(create=True)
        change = add_item(cart, variant_id, quantity)
    except CartError as exc:
        flash(str(exc), "error")
        return _added()
    for message in change.messages:
        flash(message, "warning")
    # Markup.format escapes the product's name; the sentence around it is ours.
    added = Markup('Added {item} — {count} in your cart. <a href="{url}">View cart</a>')  # noqa: S704
    cart_url = url_for("cart.view_cart")
    flash(added.format(item=change.item, count=change.quantity, url=cart_url), "success")
    return _added()


def _line_action(action, line_id: int) -> Response | str:
    cart = current_cart()
    if cart is None:
        abort(404)
    try:
        action(cart, line_id)
    except LookupError:
        abort(404)
    except CartError as exc:
        flash(str(exc), "error")
    return _respond()


@bp.post("/lines/<int:line_id>/quantity")
def update_quantity(line_id: int) -> Response | str:
    def apply(cart: Cart, line_id: int) -> None:
        # The − and + buttons carry the new quantity; "Update" submits the typed one.
        raw = request.form.get("set_quantity") or request.form.get("quantity", "")
        if raw.strip() == "0":
            name = remove_line(cart, line_id)
            flash(f"Removed {name}.", "info")
            return
        change = set_quantity(cart, line_id, parse_quantity(raw))
        for message in change.messages:
            flash(message, "warning")
        flash(f"Updated {change.item}: {change.quantity} in your cart.", "success")

    return _line_action(apply, line_id)


@bp.post("/lines/<int:line_id>/remove")
def remove_item(line_id: int) -> Response | str:
    def apply(cart: Cart, line_id: int) -> None:
        flash(f"Removed {remove_line(cart, line_id)}.", "info")

    return _line_action(apply, line_id)


@bp.post("/lines/<int:line_id>/save")
def save_item(line_id: int) -> Response | str:
    def apply(cart: Cart, line_id: int) -> None:
        flash(f"Saved {save_for_later(cart, line_id)} for later.", "info")

    return _line_action(apply, line_id)


@bp.post("/saved/<int:saved_id>/move")
def move_saved(saved_id: int) -> Response | str:
    def apply(cart: Cart, saved_id: int) -> None:
        change = move_to_cart(cart, saved_id)
        for message in change.messages:
            flash(message, "warning")
        flash("Moved back to your cart.", "success")

    return _line_action(apply, saved_id)


@bp.post("/saved/<int:saved_id>/remove")
def delete_saved(saved_id: int) -> Response | str:
    return _line_action(remove_saved, saved_id)


@bp.post("/clear")
def clear() -> Response | str:
    cart = current_cart()
    if cart is not None:
        clear_cart(cart)
        flash("Your cart is empty now.", "info")
    return _respond()


@bp.post("/code")
@limiter.shared_limit(VOUCHER_LIMIT, VOUCHER_SCOPE, key_func=limiter_key)
def apply_voucher() -> tuple[str, int] | Response | str:
    """Apply a voucher code. A code that gives nothing is refused on the field, with why
    (re-rendered with the shopper's typing kept: 422 without JavaScript; with htmx the
    cart body, whose field then carries the error)."""
    cart = current_cart()
    typed = (request.form.get("code") or "")[:200]
    if cart is None:
        flash("Add something to your cart before entering a code.", "error")
        return _respond()
    try:
        code, replaced = apply_code(cart, typed)
    except PromotionError as exc:
        view = build_cart_view(cart)
        if htmx:
            return render_template(
                "cart/partials/cart_response.html",
                view=view,
                messages=[],
                code_error=str(exc),
                code_typed=typed,
            )
        page = render_template("cart/cart.html", view=view, code_error=str(exc), code_typed=typed)
        return page, 422
    if replaced:
        flash(f"Applied the code {code}; it replaces {replaced} (one code per order).", "success")
    else:
        flash(f"Applied the code {code}.", "success")
    return _respond()


@bp.post("/code/remove")
def remove_voucher() -> Response | str:
    cart = current_cart()
    code = remove_code(cart) if cart is not None else None
    if code:
        flash(f"Removed the code {code}.", "info")
    return _respond()


@bp.get("/restore/<token>", endpoint="restore")
def restore(token: str) -> Response:
    """The reminder e-mail's link: the shopper's own cart, after signing in if needed. A
    link to someone else's cart, or a tampered or stale one, just opens the caller's cart."""
    from app.cart import recovery

    cart_id = recovery.read_restore_token(token)
    cart = db.session.get(Cart, cart_id) if cart_id is not None else None
    if cart is not None and cart.user_id is not None and not current_user.is_authenticated:
        flash("Sign in to see your cart.", "info")
        return redirect(url_for("accounts.login", next=url_for("cart.view_cart")), code=303)
    if cart is None or cart.user_id != (current_user.id if current_user.is_authenticated else None):
        flash("That link has expired; here is your cart.", "info")
    return redirect(url_for("cart.view_cart"), code=303)

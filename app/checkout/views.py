"""Checkout pages: details → review (the server's totals) → pay (provider) → back to the shop.

Each view parses the request, calls one checkout service and renders; the services decide,
talk to the provider and own the transaction's phases (app/checkout/services.py).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.addresses import ADDRESS_FIELDS
from app.accounts.profile import countries
from app.cart.queries import build_cart_view
from app.cart.views import current_cart
from app.checkout import bp, errors
from app.checkout.completion import complete_on_return
from app.checkout.details import DetailsInput, check_cart, save_details, starting_details
from app.checkout.errors import CheckoutError, DetailsInvalid
from app.checkout.forms import CheckoutForm, PayForm, form_field
from app.checkout.services import ReturnUrls, ready_to_pay, start_payment
from app.extensions import limiter
from app.orders.customer import NotCancellable, can_cancel, cancel_by_customer, linked_order
from app.orders.documents import has_invoice, invoice_pdf, pdf_response
from app.orders.pricing import active_methods, shipping_cost
from app.orders.states import LABELS

BILLING_TYPED_BUT_SAME = (
    "You filled in a billing address but chose “Same as the shipping address”. Choose “A "
    "different billing address” to use it, or clear it."
)


def _user() -> Any:
    return current_user if current_user.is_authenticated else None


def _address_from(form: Any, prefix: str) -> dict[str, str]:
    return {key: (form[f"{prefix}_{key}"].data or "").strip() for key in ADDRESS_FIELDS}


def _fill(form: Any, start: dict[str, Any]) -> None:
    form.email.data = start["email"]
    for prefix in ("shipping", "billing"):
        for key in ADDRESS_FIELDS:
            form[f"{prefix}_{key}"].data = (start.get(prefix) or {}).get(key, "")
    form.billing.data = "same" if start["billing_same"] else "different"
    form.shipping_method.data = start["shipping_method"]


def _cart_or_redirect() -> tuple[Any, Any] | Response:
    cart = current_cart()
    view = build_cart_view(cart)
    try:
        check_cart(view)
    except CheckoutError as exc:
        flash(str(exc), "info" if exc.code == errors.CART_EMPTY else "warning")
        return redirect(url_for("cart.view_cart"), code=303)
    return cart, view


@bp.route("/checkout", methods=["GET", "POST"])
def start() -> str | Response:
    found = _cart_or_redirect()
    if isinstance(found, Response):
        return found
    cart, view = found
    form = CheckoutForm()
    choices = [("", "Choose a country"), *countries()]
    form.shipping_country.choices = choices
    form.billing_country.choices = choices
    methods = active_methods()
    form.shipping_method.choices = [(m.code, f"{m.name} ({m.delivery_days})") for m in methods]
    if request.method == "GET":
        _fill(form, starting_details(cart, _user()))
    billing_conflict = False
    if form.validate_on_submit():
        different = form.billing.data == "different"
        billing = _address_from(form, "billing")
        billing_conflict = (
            not different
            and any(value for key, value in billing.items() if key != "country")
            and billing != _address_from(form, "shipping")
        )
        data = DetailsInput(
            email=form.email.data or "",
            shipping_method=form.shipping_method.data or "",
            shipping=_address_from(form, "shipping"),
            billing_same=not different,
            billing=billing if different else None,
        )
        try:
            if billing_conflict:
                raise DetailsInvalid({"billing_address": [BILLING_TYPED_BUT_SAME]})
            save_details(cart, _user(), data)
        except DetailsInvalid as exc:
            for name, messages in exc.errors.items():
                target = form._fields.get(form_field(name), form.email)
                target.errors = [*target.errors, *messages]
        except CheckoutError as exc:  # the cart changed in another tab meanwhile
            flash(str(exc), "warning")
            return redirect(url_for("cart.view_cart"), code=303)
        else:
            return redirect(url_for("checkout.review"), code=303)
    return render_template(
        "checkout/details.html",
        form=form,
        view=view,
        methods=methods,
        shipping_cost=shipping_cost,
        show_billing=form.billing.data == "different" or billing_conflict,
    )


@bp.get("/checkout/review")
def review() -> str | Response:
    return _review_page(PayForm())


def _review_page(form: PayForm, status: int = 200) -> Response:
    cart = current_cart()
    try:
        ready = ready_to_pay(cart)
    except CheckoutError as exc:
        if exc.code in errors.FIX_IN_CART:
            return redirect(url_for("cart.view_cart"))
        return redirect(url_for("checkout.start"))
    page = render_template(
        "checkout/review.html",
        details=ready.details,
        quote=ready.quote,
        view=ready.view,
        form=form,
    )
    return make_response(page, status)


@bp.post("/checkout/pay")
@limiter.limit("20 per minute")
def pay() -> Response:
    form = PayForm()
    if not form.validate_on_submit():  # the CSRF token; the terms are the service's rule
        return _review_page(form, 400)
    urls = ReturnUrls(
        success=url_for("checkout.success", _external=True) + "?session_id={CHECKOUT_SESSION_ID}",
        cancel=url_for("checkout.cancelled", _external=True),
    )
    try:
        started = start_payment(
            lambda lock: current_cart(lock=lock),
            user_id=current_user.id if current_user.is_authenticated else None,
            urls=urls,
            accepted_terms=form.accept_terms.data,
        )
    except DetailsInvalid as exc:
        form.accept_terms.errors = exc.errors.get("accept_terms", [str(exc)])
        return _review_page(form)  # like every form of the site: the page again, with errors
    except CheckoutError as exc:
        flash(str(exc), "error")
        if exc.code in errors.FIX_IN_CART:
            return redirect(url_for("cart.view_cart"), code=303)
        if exc.code in errors.FIX_IN_DETAILS:
            return redirect(url_for("checkout.start"), code=303)
        return redirect(url_for("checkout.review"), code=303)
    return redirect(started.url, code=303)


@bp.get("/checkout/success")
@limiter.limit("60 per minute")  # may ask the provider about the session: not for scanning
def success() -> str:
    outcome = complete_on_return(request.args.get("session_id", "")[:255])
    if outcome is None:
        abort(404)
    return render_template(
        "checkout/confirmation.html",
        order=outcome.order,
        labels=LABELS,
        state=outcome.state,
        pay_url=outcome.pay_url,
    )


@bp.get("/checkout/cancelled")
def cancelled() -> Response:
    """Back from the payment page without paying. Nothing changes: the order and its session
    stay as they were until they expire, so paying again from the same cart takes the
    shopper to the same session (one order number), and a changed cart replaces it."""
    if request.args.get("declined"):
        flash(
            "Your card was declined, so nothing was charged. Your cart is as you left it; "
            "you can try again or use another card.",
            "error",
        )
    else:
        flash("Payment cancelled. Your cart is as you left it.", "info")
    return redirect(url_for("cart.view_cart"), code=303)


@bp.get("/orders/<token>")
def order_status(token: str) -> str:
    """A guest's view of their order, from the signed link in their email."""
    order = linked_order(token)
    if order is None:
        abort(404)
    return render_template(
        "checkout/order.html",
        order=order,
        labels=LABELS,
        can_cancel=can_cancel(order),
        cancel_url=url_for("checkout.cancel_guest_order", token=token),
        invoice_url=url_for("checkout.guest_invoice", token=token) if has_invoice(order) else None,
        return_url=url_for("returns.guest_return", token=token),
    )


@bp.get("/orders/<token>/invoice.pdf")
def guest_invoice(token: str) -> Response:
    """The invoice of a guest's order, from the signed link in their email."""
    order = linked_order(token)
    if order is None or not has_invoice(order):
        abort(404)
    return pdf_response(invoice_pdf(order), f"invoice-{order.number}.pdf")


@bp.post("/orders/<token>/cancel")
def cancel_guest_order(token: str) -> Response:
    from app.orders.views import cancelled_message

    order = linked_order(token)
    if order is None:
        abort(404)
    back = url_for("checkout.order_status", token=token)
    try:
        refunded = cancel_by_customer(order, actor_id=None)
    except NotCancellable as exc:
        flash(str(exc), "error")
        return redirect(back, code=303)
    flash(cancelled_message(order, refunded), "success")
    return redirect(back, code=303)

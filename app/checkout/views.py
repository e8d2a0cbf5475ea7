"""Checkout: details → review (the server's totals) → pay (provider) → back to the shop."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.profile import countries
from app.cart.models import Cart
from app.cart.services import build_cart_view
from app.cart.views import current_cart
from app.checkout import bp
from app.checkout.forms import ADDRESS_KEYS, CheckoutForm
from app.checkout.links import read_order_token
from app.db import commit_unit_of_work
from app.extensions import db, limiter
from app.orders.models import Order, OrderStatus, Payment, ShippingMethod
from app.orders.pricing import Quote, active_methods, build_quote, methods_for, shipping_cost
from app.orders.services import CheckoutError, cancel_unpaid, place_order, placed_from
from app.orders.states import LABELS
from app.payments.fulfilment import fulfil_checkout_session, start_payment
from app.payments.stripe_gateway import PaymentRejected, PaymentsUnavailable

DETAILS = "checkout_details"
PENDING = "checkout_order"


def _cart_items() -> tuple[Any, list[dict]]:
    view = build_cart_view(current_cart())
    items = [
        {
            "variant_id": lv.line.variant_id,
            "product_name": lv.line.variant.product.name,
            "variant_options": lv.line.variant.options_label,
            "sku": lv.line.variant.sku,
            "unit_price": lv.unit_price,
            "quantity": lv.line.quantity,
        }
        for lv in view.lines
    ]
    return view, items


def _method(code: str | None, country: str) -> ShippingMethod | None:
    return next((m for m in methods_for(country) if m.code == code), None)


def _quote(details: dict, items: list[dict]) -> Quote | None:
    country = details["shipping"]["country"]
    method = _method(details["shipping_method"], country)
    if method is None:
        return None
    return build_quote(
        items,
        currency=build_cart_view(None).currency,
        country=country,
        region=details["shipping"].get("region", ""),
        method=method,
    )


def _prefill(form: Any) -> None:
    saved = session.get(DETAILS)
    if saved:
        form.email.data = saved["email"]
        for kind in ("shipping", "billing"):
            for key in ADDRESS_KEYS:
                getattr(form, f"{kind}_{key}").data = (saved.get(kind) or {}).get(key, "")
        form.billing_same.data = saved["billing"] is None
        form.shipping_method.data = saved["shipping_method"]
        return
    if current_user.is_authenticated:
        form.email.data = current_user.email
        default = next((a for a in current_user.addresses if a.is_default_shipping), None)
        if default is not None:
            for key in ADDRESS_KEYS:
                getattr(form, f"shipping_{key}").data = getattr(default, key)


@bp.route("/checkout", methods=["GET", "POST"])
def start() -> str | Response:
    view, items = _cart_items()
    if not view.lines:
        flash("Your cart is empty.", "info")
        return redirect(url_for("cart.view_cart"))
    if not view.can_check_out:
        flash("Some items in your cart need your attention first.", "warning")
        return redirect(url_for("cart.view_cart"))
    form = CheckoutForm()
    country_choices = [("", "Choose a country"), *countries()]
    form.shipping_country.choices = country_choices
    form.billing_country.choices = country_choices
    country = (form.shipping_country.data or "IE") if request.method == "POST" else "IE"
    methods = methods_for(country or "IE")
    form.shipping_method.choices = [
        (m.code, f"{m.name} ({m.delivery_days})") for m in active_methods()
    ] or []
    if request.method == "GET":
        _prefill(form)
        if not form.shipping_method.data and methods:
            form.shipping_method.data = methods[0].code
    if form.validate_on_submit():
        shipping = {k: (getattr(form, f"shipping_{k}").data or "").strip() for k in ADDRESS_KEYS}
        billing = (
            None
            if form.billing_same.data
            else {k: (getattr(form, f"billing_{k}").data or "").strip() for k in ADDRESS_KEYS}
        )
        problems = False
        if billing is not None and not all(
            billing[k] for k in ("full_name", "line1", "city", "country")
        ):
            form.billing_full_name.errors.append(
                "Enter the billing address, or tick “same as shipping”."
            )
            problems = True
        if _method(form.shipping_method.data, shipping["country"]) is None:
            form.shipping_method.errors.append("We do not deliver there with that option.")
            problems = True
        if not problems:
            session[DETAILS] = {
                "email": form.email.data.strip().lower(),
                "shipping": shipping,
                "billing": billing,
                "shipping_method": form.shipping_method.data,
            }
            return redirect(url_for("checkout.review"), code=303)
    return render_template(
        "checkout/details.html", form=form, view=view, methods=methods, shipping_cost=shipping_cost
    )


@bp.get("/checkout/review")
def review() -> str | Response:
    details = session.get(DETAILS)
    view, items = _cart_items()
    if not details or not view.lines:
        return redirect(url_for("checkout.start"))
    quote = _quote(details, items)
    if quote is None or not view.can_check_out:
        return redirect(url_for("checkout.start"))
    return render_template("checkout/review.html", details=details, quote=quote)


@bp.post("/checkout/pay")
@limiter.limit("20 per minute")
def pay() -> Response:
    details = session.get(DETAILS)
    view, items = _cart_items()
    if not details or not view.lines:
        return redirect(url_for("checkout.start"), code=303)
    if not view.can_check_out:
        flash("Some items in your cart need your attention first.", "warning")
        return redirect(url_for("cart.view_cart"), code=303)
    quote = _quote(details, items)  # recomputed from the catalog: nothing from the request
    if quote is None:
        return redirect(url_for("checkout.start"), code=303)
    _cancel_pending("replaced by a new payment attempt")
    if view.cart is not None:
        _cancel_cart_orders(view.cart, "replaced by a new payment attempt")
    try:
        order = place_order(
            quote,
            email=details["email"],
            user_id=current_user.id if current_user.is_authenticated else None,
            cart_id=view.cart.id if view.cart else None,
            shipping_address=details["shipping"],
            billing_address=details["billing"] or details["shipping"],
        )
    except CheckoutError as exc:
        flash(str(exc), "error")
        return redirect(url_for("cart.view_cart"), code=303)
    commit_unit_of_work()  # the order and its reservation exist before we call the provider
    session[PENDING] = order.number
    try:
        payment = start_payment(
            order,
            success_url=url_for("checkout.success", _external=True)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=url_for("checkout.cancelled", order=order.number, _external=True),
        )
    except (PaymentsUnavailable, PaymentRejected) as exc:
        flash(
            str(exc)
            or "Payments are unavailable right now. Your cart and order are kept; "
            "please try again in a few minutes.",
            "error",
        )
        return redirect(url_for("checkout.review"), code=303)
    commit_unit_of_work()
    from app.payments import provider

    return redirect(provider.retrieve_checkout_session(payment.session_id).url, code=303)


def _cancel_pending(note: str) -> None:
    number = session.pop(PENDING, None)
    if not number:
        return
    order = db.session.execute(sa.select(Order).where(Order.number == number)).scalar_one_or_none()
    if order is not None and cancel_unpaid(order, note=note):  # a paid one is left alone
        from app.payments.fulfilment import expire_open_sessions

        expire_open_sessions(order)  # an old tab can no longer pay for it


def _cancel_cart_orders(cart: Cart, note: str) -> None:
    """The cart's other unpaid orders too (another tab or browser, or the app): the cart
    counts their reservations as its own stock, so a new order must replace them, as the
    API's POST /checkout/session does, instead of stacking a second reservation on them."""
    from app.payments.fulfilment import expire_open_sessions

    pending = db.session.execute(
        sa.select(Order)
        .where(
            placed_from(cart),
            Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED]),
        )
        .order_by(Order.id)
    ).scalars()
    for order in pending:
        if cancel_unpaid(order, note=note):
            expire_open_sessions(order)


@bp.get("/checkout/success")
def success() -> str | tuple[str, int]:
    session_id = request.args.get("session_id", "")[:255]
    payment = (
        db.session.execute(
            sa.select(Payment).where(Payment.session_id == session_id)
        ).scalar_one_or_none()
        if session_id
        else None
    )
    if payment is None:
        abort(404)
    order = fulfil_checkout_session(session_id)
    assert order is not None
    if order.status == OrderStatus.PAID or order.paid_at is not None:
        session.pop(PENDING, None)
        session.pop(DETAILS, None)
    return render_template(
        "checkout/confirmation.html", order=order, labels=LABELS, processing=order.paid_at is None
    )


@bp.get("/checkout/cancelled")
def cancelled() -> Response:
    number = request.args.get("order", "")
    if number and number == session.get(PENDING):
        _cancel_pending("payment cancelled by the shopper")
    if request.args.get("declined"):
        flash(
            "Your card was declined, so nothing was charged. Your cart is as you left it.", "error"
        )
    else:
        flash("Payment cancelled. Your cart is as you left it.", "info")
    return redirect(url_for("cart.view_cart"), code=303)


@bp.get("/orders/<token>")
def order_status(token: str) -> str:
    """A guest's view of their order, from the signed link in their email."""
    number = read_order_token(token)
    if number is None:
        abort(404)
    order = db.session.execute(sa.select(Order).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        abort(404)
    return render_template(
        "checkout/order.html",
        order=order,
        labels=LABELS,
        cancel_url=url_for("checkout.cancel_guest_order", token=token),
    )


@bp.post("/orders/<token>/cancel")
def cancel_guest_order(token: str) -> Response:
    from app.orders.views import _cancel

    number = read_order_token(token)
    order = (
        db.session.execute(sa.select(Order).where(Order.number == number)).scalar_one_or_none()
        if number
        else None
    )
    if order is None:
        abort(404)
    return _cancel(order, url_for("checkout.order_status", token=token))

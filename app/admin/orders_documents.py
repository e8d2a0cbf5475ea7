"""Printable documents of an order: the invoice and the packing slip, as PDF."""

from __future__ import annotations

from flask import abort
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.orders import get_order_or_404
from app.admin.orders_pdf import invoice_pdf, packing_slip_pdf
from app.orders.models import Order
from app.orders.states import PAID_STATES


def _documented(order_id: int) -> Order:
    """Documents exist for orders that were paid (an unpaid order has nothing to invoice)."""
    order = get_order_or_404(order_id)
    if order.status not in PAID_STATES and order.paid_at is None:
        abort(404)
    return order


def _pdf(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/orders/<int:order_id>/invoice.pdf")
@permission_required("orders.view")
def orders_invoice(order_id: int) -> Response:
    order = _documented(order_id)
    return _pdf(invoice_pdf(order), f"invoice-{order.number}.pdf")


@bp.get("/orders/<int:order_id>/packing-slip.pdf")
@permission_required("orders.view")
def orders_packing_slip(order_id: int) -> Response:
    order = _documented(order_id)
    return _pdf(packing_slip_pdf(order), f"packing-slip-{order.number}.pdf")

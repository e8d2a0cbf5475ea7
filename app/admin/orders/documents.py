"""Printable documents of an order: the invoice and the packing slip, as PDF."""

from __future__ import annotations

from flask import abort
from werkzeug.wrappers import Response

from app.accounts.permissions import permission_required
from app.admin import bp
from app.extensions import db
from app.orders.documents import has_invoice, invoice_pdf, packing_slip_pdf, pdf_response
from app.orders.models import Order


def _documented(order_id: int) -> Order:
    order = db.get_or_404(Order, order_id)
    if not has_invoice(order):
        abort(404)
    return order


@bp.get("/orders/<int:order_id>/invoice.pdf")
@permission_required("orders.view")
def orders_invoice(order_id: int) -> Response:
    order = _documented(order_id)
    return pdf_response(invoice_pdf(order), f"invoice-{order.number}.pdf")


@bp.get("/orders/<int:order_id>/packing-slip.pdf")
@permission_required("orders.view")
def orders_packing_slip(order_id: int) -> Response:
    order = _documented(order_id)
    return pdf_response(packing_slip_pdf(order), f"packing-slip-{order.number}.pdf")

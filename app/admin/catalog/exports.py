"""Excel (XLSX) and CSV downloads: products (in the import format), orders and customers.

Each download is audited; the file name carries the date. Permissions follow the data:
catalog.edit for products, orders.view for orders, customers.view for customers.
"""

from __future__ import annotations

from flask import Response

from app import exports
from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.downloads import FORMATS, export_response
from app.extensions import db


@bp.get(f"/imports/export/products.{FORMATS}")
@permission_required("catalog.edit")
def imports_export_products(fmt: str) -> Response:
    return export_response(
        "products", exports.PRODUCT_COLUMNS, lambda: exports.product_rows(db.session), fmt
    )


@bp.get(f"/imports/export/orders.{FORMATS}")
@permission_required("orders.view")
def imports_export_orders(fmt: str) -> Response:
    return export_response(
        "orders", exports.ORDER_COLUMNS, lambda: exports.order_rows(db.session), fmt
    )


@bp.get(f"/imports/export/customers.{FORMATS}")
@permission_required("customers.view")
def imports_export_customers(fmt: str) -> Response:
    return export_response(
        "customers", exports.CUSTOMER_COLUMNS, lambda: exports.customer_rows(db.session), fmt
    )

"""CSV downloads: products (in the import format), orders and customers, streamed.

Each download is audited; the file name carries the date. Permissions follow the data:
catalog.edit for products, orders.view for orders, customers.view for customers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_login import current_user
from sqlalchemy.orm import Session, scoped_session

from app import exports
from app.accounts.permissions import permission_required
from app.admin import bp
from app.extensions import db


def _download(
    name: str,
    header: Iterable[str],
    rows: Callable[[Session | scoped_session[Any]], Iterator[Any]],
) -> Response:
    """The body streams after the request's unit of work has committed (with the audit row):
    the request context stays open while it streams (``stream_with_context``), so the rows are
    read by the request's own session in a new, read-only transaction that the request's
    teardown ends."""
    filename = exports.start_export(name, actor_id=current_user.id)

    def generate() -> Iterator[str]:
        yield from exports.stream_csv(header, rows(db.session))

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/imports/export/products.csv")
@permission_required("catalog.edit")
def imports_export_products() -> Response:
    return _download("products", exports.PRODUCT_COLUMNS, exports.product_rows)


@bp.get("/imports/export/orders.csv")
@permission_required("orders.view")
def imports_export_orders() -> Response:
    return _download("orders", exports.ORDER_COLUMNS, exports.order_rows)


@bp.get("/imports/export/customers.csv")
@permission_required("customers.view")
def imports_export_customers() -> Response:
    return _download("customers", exports.CUSTOMER_COLUMNS, exports.customer_rows)

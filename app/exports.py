"""CSV and Excel (XLSX) exports of products, orders and customers, streamed.

Rows come from the database in batches (``yield_per``) and leave as text in blocks, so an
export of 100,000 rows never holds them all in memory. Every cell that a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return) is prefixed with a single
quote (OWASP "CSV injection"); the product import removes that quote again, so an exported
catalog re-imports unchanged. Files start with a UTF-8 byte-order mark so spreadsheets pick
the right encoding.

The same rows make an XLSX workbook (XlsxWriter, in constant-memory mode, into a temporary
file that then streams): amounts are numbers with their currency's decimals, dates are
dates, and text is always written as text (never a formula or a link), so the quote that
protects CSV is not needed there.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

import sqlalchemy as sa
import xlsxwriter
from babel.numbers import get_currency_precision
from sqlalchemy.orm import Session, scoped_session
from xlsxwriter.utility import xl_rowcol_to_cell

from app.accounts.audit import audit
from app.accounts.models import Role, User
from app.catalog.csv_format import COLUMN_NAMES, format_options
from app.catalog.models import Category, Product, Variant
from app.db import utcnow
from app.orders.models import Order, OrderLine
from app.payments.models import Payment

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
YIELD_PER = 1000
FLUSH_ROWS = 500

ORDER_COLUMNS = (
    "number",
    "created_at",
    "status",
    "email",
    "customer_id",
    "currency",
    "subtotal",
    "shipping",
    "discount",
    "tax",
    "tax_inclusive",
    "total",
    "refunded",
    "items",
    "shipping_method",
    "shipping_country",
    "paid_at",
)
CUSTOMER_COLUMNS = (
    "id",
    "email",
    "name",
    "phone",
    "email_verified",
    "active",
    "orders",
    "created_at",
)


def format_money(minor: int | None, currency: str) -> Decimal | None:
    """An amount in currency units with the currency's decimals (``1900`` → ``19.00``): a
    number in a workbook, the same text as the product import reads in a CSV."""
    if minor is None:
        return None
    return Decimal(minor).scaleb(-get_currency_precision(currency))


def safe_cell(value: Any) -> str:
    """Text for one cell, neutralised if a spreadsheet would evaluate it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def stream_csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text in blocks of FLUSH_ROWS rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(list(header))
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v) for v in row])
        if count % FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


XLSX_CHUNK = 64 * 1024
XLSX_OPTIONS = {
    "constant_memory": True,  # rows go to disk as they are written
    "strings_to_formulas": False,  # text is text: no formula injection
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "remove_timezone": True,  # times are UTC, as in the CSV
    "default_date_format": "yyyy-mm-dd hh:mm:ss",
}


def stream_xlsx(
    header: Iterable[str], rows: Iterable[Iterable[Any]], sheet: str
) -> Iterator[bytes]:
    """The workbook's bytes, once every row is written (a zip file cannot start earlier)."""
    with tempfile.TemporaryFile() as out:
        _write_workbook(out, list(header), rows, sheet)
        out.seek(0)
        while chunk := out.read(XLSX_CHUNK):
            yield chunk


XLSX_MAX_TEXT = 32_767  # Excel's limit for one cell
XLSX_MAX_ROWS = 1_048_576  # Excel's limit for one sheet, the header included


def _write_workbook(
    out: IO[bytes], header: list[str], rows: Iterable[Iterable[Any]], sheet: str
) -> None:
    """Excel's limits are said, never hidden: a longer text is cut with a note on a "Read
    me" sheet naming the cell, and rows past the last Excel row are left out with a note."""
    workbook = xlsxwriter.Workbook(out, {**XLSX_OPTIONS, "tmpdir": tempfile.gettempdir()})
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    decimals: dict[int, Any] = {}
    notes: list[str] = []
    worksheet.write_row(0, 0, header, bold)
    worksheet.freeze_panes(1, 0)
    last = 0
    for number, row in enumerate(rows, 1):
        if number >= XLSX_MAX_ROWS:
            notes.append(
                f"Only the first {XLSX_MAX_ROWS - 1:,} rows fit in Excel; use the CSV export "
                "for all of them."
            )
            break
        last = number
        for column, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                worksheet.write_string(last, column, "yes" if value else "no")
            elif isinstance(value, Decimal):
                places = max(0, -int(value.as_tuple().exponent))
                if places not in decimals:
                    decimals[places] = workbook.add_format(
                        {"num_format": "0." + "0" * places if places else "0"}
                    )
                worksheet.write_number(last, column, value, decimals[places])
            elif isinstance(value, int | float):
                worksheet.write_number(last, column, value)
            elif isinstance(value, datetime):
                worksheet.write_datetime(last, column, value)
            else:
                text = str(value)
                if len(text) > XLSX_MAX_TEXT:
                    cell = xl_rowcol_to_cell(last, column)
                    notes.append(
                        f"{cell} ({header[column]}) holds {len(text):,} characters; Excel keeps "
                        f"{XLSX_MAX_TEXT:,}, so it is cut there. The CSV export has it whole."
                    )
                    text = text[:XLSX_MAX_TEXT]
                worksheet.write_string(last, column, text)
    worksheet.autofilter(0, 0, last, max(0, len(header) - 1))
    if notes:
        readme = workbook.add_worksheet("Read me")
        readme.write_string(0, 0, "What this workbook could not hold", bold)
        for line, note in enumerate(notes, 1):
            readme.write_string(line, 0, note)
    workbook.close()


def _stream(
    session: Session | scoped_session[Any], stmt: sa.Select[*tuple[Any, ...]]
) -> Iterator[Any]:
    """Rows in batches: a server-side cursor on PostgreSQL, partitions on SQLite."""
    result = session.execute(stmt.execution_options(yield_per=YIELD_PER))
    for partition in result.partitions():
        yield from partition


def product_rows(session: Session | scoped_session[Any]) -> Iterator[list[Any]]:
    """One row per variant in the import format (``COLUMN_NAMES``)."""
    stmt = (
        sa.select(
            Product.slug,
            Product.name,
            Product.description_html,
            Product.brand,
            Category.slug_path,
            Product.status,
            Product.currency,
            Variant.sku,
            Variant.options,
            Variant.price,
            Variant.compare_at_price,
            Variant.stock_on_hand,
            Variant.low_stock_threshold,
            Product.attributes,
        )
        .join(Product, Variant.product_id == Product.id)
        .outerjoin(Category, Product.category_id == Category.id)
        .order_by(Product.id, Variant.position, Variant.id)
    )
    for r in _stream(session, stmt):
        yield [
            r.slug,
            r.name,
            r.description_html,
            r.brand,
            r.slug_path or "",
            r.status,
            r.currency,
            r.sku,
            format_options(r.options or {}),
            format_money(r.price, r.currency),
            format_money(r.compare_at_price, r.currency),
            r.stock_on_hand,
            r.low_stock_threshold,
            format_options(r.attributes or {}),  # the same Name=value;… cell as options
        ]


PRODUCT_COLUMNS = COLUMN_NAMES


def order_rows(session: Session | scoped_session[Any]) -> Iterator[list[Any]]:
    """Totals in decimal currency units (19.99), one row per order, oldest first."""
    items = (
        sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    refunded = (  # what the provider confirmed, as the dashboard counts it
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_refunded), 0))
        .where(Payment.order_id == Order.id)
        .scalar_subquery()
    )
    stmt = sa.select(
        Order.number,
        Order.created_at,
        Order.status,
        Order.email,
        Order.user_id,
        Order.currency,
        Order.subtotal,
        Order.shipping,
        Order.discount,
        Order.tax,
        Order.tax_inclusive,
        Order.total,
        refunded.label("refunded"),
        items.label("items"),
        Order.shipping_method,
        Order.shipping_address,
        Order.paid_at,
    ).order_by(Order.id)
    for r in _stream(session, stmt):
        address = r.shipping_address if isinstance(r.shipping_address, dict) else {}
        yield [
            r.number,
            r.created_at,
            r.status,
            r.email,
            r.user_id,
            r.currency,
            format_money(r.subtotal, r.currency),
            format_money(r.shipping, r.currency),
            format_money(r.discount, r.currency),
            format_money(r.tax, r.currency),
            r.tax_inclusive,
            format_money(r.total, r.currency),
            format_money(r.refunded, r.currency),
            r.items,
            r.shipping_method,
            address.get("country", ""),
            r.paid_at,
        ]


def customer_rows(session: Session | scoped_session[Any]) -> Iterator[list[Any]]:
    """Customer accounts (not staff, not erased), with contact details only: never password
    hashes, two-factor secrets, sessions or addresses."""
    orders = sa.select(sa.func.count(Order.id)).where(Order.user_id == User.id).scalar_subquery()
    stmt = (
        sa.select(
            User.id,
            User.email,
            User.name,
            User.phone,
            User.email_verified_at,
            User.is_active_account,
            orders.label("orders"),
            User.created_at,
        )
        .where(User.role == Role.CUSTOMER, User.deleted_at.is_(None))
        .order_by(User.id)
    )
    for r in _stream(session, stmt):
        yield [
            r.id,
            r.email,
            r.name,
            r.phone,
            r.email_verified_at is not None,
            r.is_active_account,
            r.orders,
            r.created_at,
        ]


def start_export(name: str, *, actor_id: int | None, extension: str = "csv") -> str:
    """An export is about to stream: audited (who took which data, when); the filename to
    offer, dated."""
    filename = f"{name}-{utcnow().date().isoformat()}.{extension}"
    audit(f"exports.{name}", actor_id=actor_id, target=filename)
    return filename

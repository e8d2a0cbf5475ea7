"""Invoice and packing slip PDFs (fpdf2, pure Python).

Documents use DejaVu Sans, shipped with the app (app/orders/fonts, with its licence), so a
server without system fonts prints the same invoice. Every character the font has is kept
(Latin, Greek, Cyrillic, ...); one it lacks (CJK, emoji) is folded to a base letter where
there is one, else "?". A name in any script never breaks a document.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, cast

from fpdf import FPDF, FontFace
from fpdf.enums import TableCellFillMode
from fpdf.fonts import TTFFont
from werkzeug.wrappers import Response

from app.accounts.addresses import address_lines
from app.core.templating import money
from app.orders.models import Order, OrderStatus, RefundStatus
from app.orders.pricing import tax_on, tax_rate_for
from app.orders.states import LABELS
from app.store.settings import store_details

FONTS = Path(__file__).with_name("fonts")


def has_invoice(order: Order) -> bool:
    """Paid orders have an invoice (an unpaid one has nothing to invoice yet)."""
    from app.orders.states import PAID_STATES

    return order.status in PAID_STATES or order.paid_at is not None


def pdf_response(body: bytes, filename: str) -> Response:
    """A PDF shown in the browser (and saved under ``filename``), never stored by caches."""
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def printable(text: str, glyphs: set[int]) -> str:
    """``text`` with every character the font lacks replaced by its base letters when the font
    has them (a decomposed accent), else "?"; control characters become spaces."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char == "\n" or (char.isprintable() and ord(char) in glyphs):
            out.append(char)
        elif not char.isprintable():
            out.append(" ")
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if ord(c) in glyphs and not unicodedata.combining(c)
            )
            out.append(base or "?")
    return "".join(out)


class Document(FPDF):
    """An A4 page with the shop's font and a text guard on everything written."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(16, 16, 16)
        self.add_font("Body", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("Body", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.family = "Body"
        font = cast(TTFFont, self.fonts["body"])  # added just above from a .ttf file
        self.glyphs: set[int] = set(font.cmap)
        self.set_title(self.safe(title))
        self.set_creator("ShopSphere")
        self.alias_nb_pages()
        self.add_page()
        self.set_font(self.family, size=10)

    def safe(self, value: Any) -> str:
        return printable("" if value is None else str(value), self.glyphs)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, size=8)
        self.cell(0, 6, self.safe(f"Page {self.page_no()} of {{nb}}"), align="C")

    def text_line(self, text: Any, *, size: float = 10, bold: bool = False, h: float = 5) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.multi_cell(0, h, self.safe(text), new_x="LMARGIN", new_y="NEXT")

    def block(self, x: float, y: float, w: float, heading: str, lines: list[str]) -> float:
        self.set_xy(x, y)
        self.set_font(self.family, "B", 10)
        self.multi_cell(w, 5, self.safe(heading), new_x="LEFT", new_y="NEXT")
        self.set_font(self.family, "", 10)
        for line in lines:
            self.multi_cell(w, 5, self.safe(line), new_x="LEFT", new_y="NEXT")
        return self.get_y()


def _local(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%d %B %Y")


def _store_header(pdf: Document, title: str) -> tuple[Any, tzinfo]:
    store = store_details()
    zone = getattr(store, "tzinfo", None) or UTC
    pdf.text_line(store.name, size=16, bold=True, h=7)
    seller = []
    if store.legal_name and store.legal_name != store.name:
        seller.append(store.legal_name)
    seller += list(store.address_lines)
    seller += [v for v in (store.email, store.phone) if v]
    if store.vat_number:
        seller.append(f"VAT number: {store.vat_number}")
    for line in seller:
        pdf.text_line(line, size=9, h=4.5)
    pdf.ln(4)
    pdf.text_line(title, size=14, bold=True, h=7)
    return store, zone


def _line_label(line: Any) -> str:
    return line.product_name + (f" ({line.variant_options})" if line.variant_options else "")


def vat_summary(order: Order) -> tuple[str, int, int, int]:
    """(label, net, tax, gross) of the order's taxed amount (goods and shipping).

    Orders keep tax amounts, not the rate; the label names the rate only when today's rate for
    the destination reproduces every stored line tax exactly."""
    label = "VAT" if order.tax_inclusive else "Tax"
    address = order.shipping_address or {}
    rate = tax_rate_for(str(address.get("country") or ""), str(address.get("region") or ""))
    if rate is not None and all(
        tax_on(line.line_total - line.discount, rate.rate_bp, order.tax_inclusive) == line.tax
        for line in order.lines
    ):
        label = f"{rate.name or label} {rate.rate_bp / 100:g}%"
    taxed = order.subtotal + order.shipping - order.discount
    if order.tax_inclusive:
        return label, taxed - order.tax, order.tax, taxed
    return label, taxed, order.tax, taxed + order.tax


def invoice_pdf(order: Order) -> bytes:
    pdf = Document(f"Invoice {order.number}")
    _, zone = _store_header(pdf, "Invoice")
    issued = order.paid_at or order.created_at
    facts = [
        ("Invoice number", order.number),
        ("Invoice date", _local(issued, zone)),
        ("Order number", order.number),
        ("Order date", _local(order.created_at, zone)),
        ("Customer email", order.email),
    ]
    pdf.set_font(pdf.family, "", 10)
    for name, value in facts:
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(40, 5, pdf.safe(name))
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(0, 5, pdf.safe(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    top = pdf.get_y()
    billing = order.billing_address or order.shipping_address
    end_left = pdf.block(pdf.l_margin, top, 85, "Billed to", address_lines(billing))
    end_right = pdf.block(
        pdf.l_margin + 93, top, 85, "Shipped to", address_lines(order.shipping_address)
    )
    pdf.set_xy(pdf.l_margin, max(end_left, end_right) + 4)

    currency = order.currency
    tax_head = "VAT" if order.tax_inclusive else "Tax"
    headings = (
        "Item",
        "SKU",
        "Qty",
        "Unit price",
        f"{tax_head}{' incl.' if order.tax_inclusive else ''}",
        "Total",
    )
    pdf.set_font(pdf.family, "", 9)
    with pdf.table(
        col_widths=(62, 28, 12, 26, 24, 26),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        cell_fill_mode=TableCellFillMode.NONE,
        line_height=5,
    ) as table:
        table.row([pdf.safe(h) for h in headings])
        for line in order.lines:
            table.row(
                [
                    pdf.safe(_line_label(line)),
                    pdf.safe(line.sku),
                    str(line.quantity),
                    pdf.safe(money(line.unit_price, currency)),
                    pdf.safe(money(line.tax, currency)),
                    pdf.safe(money(line.line_total, currency)),
                ]
            )
    pdf.ln(3)
    totals = [("Subtotal", money(order.subtotal, currency))]
    for d in order.discounts:
        if d.target == "items":
            code = f" ({d.code})" if d.code else ""
            totals.append((f"Discount: {d.name}{code}", "-" + money(d.amount, currency)))
    shipping_name = f"Shipping ({order.shipping_method})" if order.shipping_method else "Shipping"
    free = order.free_shipping
    if free is not None:
        code = f" {free.code}" if free.code else ""
        shipping_name += f", free with {free.name}{code} (saves {money(free.amount, currency)})"
    totals.append((shipping_name, money(order.shipping, currency)))
    if order.discount and not any(d.target == "items" for d in order.discounts):
        totals.append(("Discount", "-" + money(order.discount, currency)))
    if not order.tax_inclusive:
        totals.append((tax_head, money(order.tax, currency)))
    totals.append(("Total", money(order.total, currency)))
    if order.tax_inclusive:  # under the total, as on the shop's pages and emails
        totals.append((f"Includes {tax_head}", money(order.tax, currency)))
    for name, value in totals:
        bold = name == "Total"
        pdf.set_font(pdf.family, "B" if bold else "", 10)
        pdf.cell(140, 6, pdf.safe(name), align="R")
        pdf.cell(0, 6, pdf.safe(value), align="R", new_x="LMARGIN", new_y="NEXT")

    pdf.ln(4)
    pdf.text_line(f"{tax_head} summary", bold=True)
    label, net, tax, gross = vat_summary(order)
    pdf.set_font(pdf.family, "", 9)
    with pdf.table(
        col_widths=(60, 40, 40, 38),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=5,
    ) as table:
        table.row([pdf.safe(h) for h in ("Rate", "Net", tax_head, "Gross")])
        table.row(
            [
                pdf.safe(label),
                pdf.safe(money(net, currency)),
                pdf.safe(money(tax, currency)),
                pdf.safe(money(gross, currency)),
            ]
        )
    pdf.ln(4)
    if order.paid_at is not None:
        pdf.text_line(f"Paid on {_local(order.paid_at, zone)}. Thank you for your order.", size=9)
    _refunds_section(pdf, order, zone)
    return bytes(pdf.output())


def _refunds_section(pdf: Document, order: Order, zone: tzinfo) -> None:
    """Money given back after the sale: each confirmed refund and what remains paid, so the
    invoice of a cancelled or refunded order never reads as if the whole total was kept."""
    currency = order.currency
    done = [r for r in order.refunds if r.status == RefundStatus.SUCCEEDED]
    pending = [r for r in order.refunds if r.status == RefundStatus.PENDING]
    if order.status == OrderStatus.CANCELLED or (order.status == OrderStatus.REFUNDED and not done):
        pdf.text_line(f"This order was {LABELS.get(order.status, order.status).lower()}.", size=9)
    if not done and not pending:
        return
    pdf.ln(2)
    pdf.text_line("Refunds", bold=True)
    for refund in done:
        when = _local(refund.settled_at or refund.created_at, zone)
        reason = f" ({refund.reason})" if refund.reason else ""
        pdf.text_line(f"Refunded on {when}: {money(refund.amount, currency)}{reason}", size=9)
    for refund in pending:
        pdf.text_line(f"Refund in progress: {money(refund.amount, currency)}", size=9)
    refunded = sum(r.amount for r in done)
    pdf.text_line(
        f"Total refunded {money(refunded, currency)}; "
        f"net paid {money(order.total - refunded, currency)}.",
        size=9,
        bold=True,
    )


def packing_slip_pdf(order: Order) -> bytes:
    pdf = Document(f"Packing slip {order.number}")
    _, zone = _store_header(pdf, "Packing slip")
    for name, value in (
        ("Order number", order.number),
        ("Order date", _local(order.created_at, zone)),
        ("Shipping method", order.shipping_method),
    ):
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(40, 5, pdf.safe(name))
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(0, 5, pdf.safe(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    end = pdf.block(
        pdf.l_margin, pdf.get_y(), 120, "Ship to", address_lines(order.shipping_address)
    )
    pdf.set_xy(pdf.l_margin, end + 4)
    to_pack = [(line, line.quantity - line.quantity_refunded) for line in order.lines]
    to_pack = [(line, qty) for line, qty in to_pack if qty > 0]
    pdf.set_font(pdf.family, "", 10)
    with pdf.table(
        col_widths=(34, 100, 20, 24),
        text_align=("LEFT", "LEFT", "RIGHT", "CENTER"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=6,
    ) as table:
        table.row([pdf.safe(h) for h in ("SKU", "Item", "Qty", "Packed")])
        for line, qty in to_pack:
            table.row([pdf.safe(line.sku), pdf.safe(_line_label(line)), str(qty), "[  ]"])
    pdf.ln(3)
    pdf.text_line(f"{sum(q for _, q in to_pack)} item(s) in {len(to_pack)} line(s).", size=9)
    return bytes(pdf.output())

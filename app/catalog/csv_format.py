"""The product CSV file format, shared by the import and the export: its columns (shown to
staff on the import page), reading a file (encoding, size, header, rows) and the cell syntax
of counts and options. Validation against the catalog is app/catalog/csv_import.py.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from app.core.numbers import parse_int

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_QUANTITY = 2**31 - 1
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORMULA_ESCAPED = re.compile(r"^'[=+\-@\t\r]")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    product_level: bool
    max_length: int
    help: str
    example: str


# fmt: off
COLUMNS: tuple[Column, ...] = (
    Column("handle", True, True, 220, "The product's URL slug: lower-case letters, digits and "
           "hyphens. Rows with the same handle are the variants of one product.", "linen-shirt"),
    Column("name", True, True, 200, "Product name. Needed on at least one row of a new "
           "product; other rows of the same handle may leave it blank.", "Linen Shirt"),
    Column("description", False, True, 20_000, "Product description; simple HTML is kept "
           "(sanitised like the product editor).", "<p>Breathable linen.</p>"),
    Column("brand", False, True, 120, "Brand name.", "Hearth"),
    Column("category", False, True, 500, "Category path as in the shop's addresses, e.g. "
           "clothing/men/shirts. The category must already exist.", "clothing/men/shirts"),
    Column("status", False, True, 16, "draft, published or archived. A new product without "
           "one is a draft; a published product cannot go back to draft.", "published"),
    Column("currency", False, True, 3, "The shop's currency code; blank means the shop's "
           "currency.", "EUR"),
    Column("sku", True, False, 64, "Unique stock-keeping unit. An existing SKU updates that "
           "variant; a new one adds a variant.", "LS-M-BLUE"),
    Column("options", False, False, 500, "Name=value pairs separated by semicolons, e.g. "
           "Size=M;Colour=Blue.", "Size=M;Colour=Blue"),
    Column("price", True, False, 20, "Price as a decimal number with a dot, e.g. 19.99: no "
           "currency sign, no thousands separator.", "19.99"),
    Column("compare_at_price", False, False, 20, "Optional earlier price, shown crossed out; "
           "above the price. Blank removes it.", "24.99"),
    Column("stock", False, False, 12, "Units on hand, a whole number (not a change). Each "
           "difference is recorded as a stock movement with reason \"import\". A new variant "
           "without one has 0. Sales made since you exported or counted are overwritten: "
           "leave the cell blank to keep the current stock.", "12"),
    Column("low_stock_threshold", False, False, 12, "Alert when available stock falls to this "
           "number. New variants default to the store's setting.", "5"),
    Column("specifications", False, True, 8_000, "Product specifications as Name=value pairs "
           "separated by semicolons (a value cannot hold ; or =; use the product editor for "
           "those). Blank keeps the product's own.", "Material=Linen;Fit=Regular"),
)
# fmt: on
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
COLUMNS_BY_NAME = {c.name: c for c in COLUMNS}
PRODUCT_FIELDS = tuple(c.name for c in COLUMNS if c.product_level and c.name != "handle")


class FileError(ValueError):
    """The file as a whole cannot be read; the message is safe to show to staff."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


def decode(data: bytes) -> str:
    """UTF-8 text, with or without a byte-order mark; anything else is refused clearly."""
    if len(data) > MAX_BYTES:
        raise FileError(
            f"The file is {_size(len(data))}; the limit is {_size(MAX_BYTES)} and "
            f"{MAX_ROWS:,} rows. Split it into smaller files."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(
            f"The file is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f'{exc.start}). In your spreadsheet choose "CSV UTF-8" when saving.'
        ) from None
    if "\x00" in text:
        raise FileError("The file contains NUL characters; it does not look like a CSV file.")
    if not text.strip():
        raise FileError("The file is empty.")
    return text


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f}".removesuffix(".0") + " MB"
    return f"{max(round(n / 1024), 1)} KB"


def unescape(cell: str) -> str:
    """Undo the export's formula-injection guard ('=... becomes =...) so files round-trip."""
    return cell[1:] if _FORMULA_ESCAPED.match(cell) else cell


def read_rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[RowError]]:
    """Header (normalised names) and the non-blank rows as (row number, {column: cell})."""
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:  # spreadsheets in some locales save with ; or tabs
        delimiter = ";" if ";" in first_line else ("\t" if "\t" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    try:
        header_cells = next(reader)
        header = [c.strip().lower().lstrip("\ufeff") for c in header_cells]
        rows: list[tuple[int, dict[str, str]]] = []
        number = 1
        for cells in reader:
            number += 1
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise FileError(
                    f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
                )
            if any(c.strip() for c in cells[len(header) :]):
                errors.append(
                    RowError(number, "", f"{len(cells)} cells, but the header has {len(header)}.")
                )
                continue
            rows.append((number, {header[i]: unescape(c.strip()) for i, c in enumerate(cells)}))
    except csv.Error as exc:
        raise FileError(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None
    return header, rows, errors


def check_header(header: list[str]) -> list[RowError]:
    errors = []
    seen = set()
    for name in header:
        if not name:
            continue
        if name in seen:
            errors.append(RowError(1, name, "This column appears twice."))
        elif name and name not in COLUMNS_BY_NAME:
            errors.append(
                RowError(1, name, f"Unknown column. Columns are: {', '.join(COLUMN_NAMES)}.")
            )
        seen.add(name)
    for column in COLUMNS:
        if column.required and column.name not in seen:
            errors.append(RowError(1, column.name, "This required column is missing."))
    return errors


# --------------------------------------------------------------------------- values


def parse_count(value: str) -> int:
    number = parse_int(value)
    if number is None:
        if value.isascii() and value.isdigit():
            raise ValueError("The number is too large.")
        raise ValueError(f'"{value[:40]}" is not a whole number of 0 or more.')
    if number > MAX_QUANTITY:
        raise ValueError("The number is too large.")
    return number


def parse_options(value: str) -> dict[str, str]:
    """'Size=M;Colour=Blue' -> {'Size': 'M', 'Colour': 'Blue'}."""
    options: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        name, sep, option_value = part.partition("=")
        name, option_value = name.strip(), option_value.strip()
        if not sep or not name or not option_value:
            raise ValueError(f'"{part.strip()[:40]}" is not Name=value.')
        if name in options:
            raise ValueError(f'The option "{name}" is given twice.')
        options[name] = option_value
    return options


def format_options(options: dict[str, Any]) -> str:
    return ";".join(f"{k}={v}" for k, v in options.items())

"""Staff downloads as Excel (XLSX) or CSV: one response for every export of the admin."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_login import current_user

from app import exports

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = "<any(csv, xlsx):fmt>"  # the route part that names the format


def export_response(
    name: str, header: Iterable[str], rows: Callable[[], Iterable[Any]], fmt: str
) -> Response:
    """Audited now (the request's unit of work commits the audit row); the rows are read by
    ``rows()`` while the body streams, inside the request context (``stream_with_context``),
    in a new read-only transaction that the request's teardown ends."""
    filename = exports.start_export(name, actor_id=current_user.id, extension=fmt)

    def generate() -> Iterator[bytes]:
        if fmt == "xlsx":
            yield from exports.stream_xlsx(header, rows(), sheet=name)
        else:
            for block in exports.stream_csv(header, rows()):
                yield block.encode()

    mimetype = XLSX_MIMETYPE if fmt == "xlsx" else "text/csv"
    response = Response(stream_with_context(generate()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response

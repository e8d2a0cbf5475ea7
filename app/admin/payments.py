"""Payment figures: checkout sessions started per day and what became of them (paid, failed,
expired, refunded, disputed) with their rates, on a page and as CSV or Excel."""

from __future__ import annotations

from flask import Response, render_template, request

from app.accounts.permissions import permission_required
from app.admin import bp, stats
from app.admin.downloads import FORMATS, export_response
from app.db import utcnow
from app.store.settings import store_details


def _days() -> int:
    raw = request.args.get("days", "")
    return int(raw) if raw in {str(n) for n in stats.FIGURE_PERIODS} else 30


@bp.get("/payments")
@permission_required("orders.view")
def payment_figures() -> str:
    days = _days()
    details = store_details()
    figures = stats.payment_figures(utcnow(), details.tzinfo, days)
    return render_template(
        "admin/payments.html",
        figures=list(reversed(figures)),
        total=stats.total(figures),
        days=days,
        periods=stats.FIGURE_PERIODS,
        timezone=details.tzinfo.key,
    )


@bp.get(f"/payments/figures.{FORMATS}")
@permission_required("orders.view")
def payment_figures_export(fmt: str) -> Response:
    days = _days()
    figures = stats.payment_figures(utcnow(), store_details().tzinfo, days)
    rows = stats.figure_rows(figures)
    return export_response("payment-figures", stats.FIGURE_COLUMNS, lambda: rows, fmt)

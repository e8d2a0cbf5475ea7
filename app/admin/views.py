"""The staff dashboard: revenue, the revenue chart, orders to send, low stock, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from babel.numbers import get_currency_precision
from flask import current_app, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.routing import BuildError

from app.accounts.permissions import ROLE_PERMISSIONS, permission_required
from app.admin import bp, stats
from app.admin.chart import bar_chart
from app.catalog.models import Product, ProductStatus, Variant
from app.catalog.search_stats import top_searches
from app.db import utcnow
from app.extensions import db
from app.orders.states import LABELS
from app.store.settings import store_details


def _now() -> datetime:
    """The dashboard's clock (tests replace it to pin the days)."""
    return utcnow()


@bp.app_template_global()
def admin_url_if(endpoint: str, _query: dict[str, Any] | None = None, **candidates: Any):
    """A link to ``endpoint`` if that screen exists (other areas add theirs over time), with
    its URL arguments picked from ``candidates`` by name; ``None`` otherwise, so the template
    shows plain text instead of a broken link."""
    try:
        rules = list(current_app.url_map.iter_rules(endpoint))
    except KeyError:
        return None
    for rule in rules:
        if rule.arguments <= candidates.keys():
            values = {name: candidates[name] for name in rule.arguments}
            try:
                return url_for(endpoint, **values, **(_query or {}))
            except BuildError:
                continue
    return None


def _low_stock(limit: int = 20) -> list[Variant]:
    return list(
        db.session.execute(
            sa.select(Variant)
            .join(Product)
            .where(
                Product.status == ProductStatus.PUBLISHED,
                Variant.track_inventory.is_(True),
                Variant.stock_on_hand - Variant.reserved <= Variant.low_stock_threshold,
            )
            .order_by(Variant.stock_on_hand - Variant.reserved, Variant.id)
            .limit(limit)
            .options(joinedload(Variant.product))
        ).scalars()
    )


@bp.get("/")
@permission_required("orders.view")
def dashboard() -> str:
    details = store_details()
    revenue = stats.revenue(_now(), details.tzinfo)
    currencies = revenue.currencies or [current_app.config["SHOP_CURRENCY"]]
    charts = {
        currency: bar_chart(
            revenue.days,
            [money.net for money in revenue.series(currency)],
            unit=10 ** get_currency_precision(currency),
        )
        for currency in currencies
    }
    periods = {
        currency: [(label, revenue.period(currency, n)) for label, n in stats.PERIODS]
        for currency in currencies
    }
    waiting_total, waiting = stats.awaiting_fulfilment()
    counts = dict(
        db.session.execute(
            sa.select(Product.status, sa.func.count()).group_by(Product.status)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        revenue=revenue,
        tz=details.tzinfo,
        currencies=currencies,
        charts=charts,
        periods=periods,
        waiting=waiting,
        waiting_total=waiting_total,
        status_labels=LABELS,
        low_stock=_low_stock(),
        dead=stats.dead_letters(),
        counts=counts,
        top_searches=top_searches(),
        zero_searches=top_searches(zero_only=True),
        permissions=sorted(ROLE_PERMISSIONS.get(current_user.role, set())),
    )

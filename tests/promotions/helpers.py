"""Promotions as staff make them (through the same service as Admin → Promotions)."""

from __future__ import annotations

from app.promotions.manage import PromotionInput, create_promotion
from app.promotions.models import Promotion


def promotion(
    name: str = "Welcome 10 %",
    *,
    code: str = "WELCOME10",
    benefit: str = "percent",
    value: int = 10,
    **fields,
) -> Promotion:
    data = PromotionInput(
        name=name,
        requires_code=bool(code),
        benefit=benefit,
        value=value,
        code=code,
        **fields,
    )
    return create_promotion(data, actor_id=None)

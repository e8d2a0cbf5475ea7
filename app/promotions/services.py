"""Promotions read for a cart: the automatic ones running now, the cart's code and whether
it may be used (window, pause, limits), then :func:`app.promotions.rules.evaluate`.

Both doors reach this through the cart (``apply_code``/``remove_code``) and the quote; the
uses a code has left are counted with the order's life in :mod:`app.promotions.uses`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context

from app.core.shop_errors import ShopError
from app.core.templating import money, shop_time
from app.db import utcnow
from app.extensions import db
from app.promotions.models import OrderDiscount, Promotion, UseState, VoucherCode
from app.promotions.rules import Deal, Line, Rule, evaluate

CODE_MAX = 40
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,39}")


class PromotionError(ShopError):
    """A code that cannot be used; the message says why, in the shopper's words."""

    code = "voucher-invalid"
    status = 422


@dataclass(frozen=True)
class Shopper:
    """Who the cart is for, as far as limits per customer go, and the cart's own unpaid
    orders (their held uses are this cart's, not someone else's: a retry must not be told
    the code is used up by its own earlier attempt)."""

    user_id: int | None = None
    email: str = ""
    own_orders: Collection[int] = ()


def normalise_code(text: str | None) -> str:
    """What a shopper typed, as codes are stored: NFKC (full-width letters, Unicode digits
    become ASCII or are refused), spaces dropped, upper case. "" when it cannot be a code."""
    raw = unicodedata.normalize("NFKC", (text or "")[:200]).replace(" ", "").upper()
    return raw if _CODE.fullmatch(raw) and raw.isascii() else ""


def rule_of(promotion: Promotion, code: VoucherCode | None = None) -> Rule:
    return Rule(
        promotion_id=promotion.id,
        name=promotion.name,
        benefit=promotion.benefit,
        value=promotion.value,
        scope=promotion.scope,
        product_ids=frozenset(promotion.product_ids or ()),
        category_ids=frozenset(promotion.category_ids or ()),
        min_subtotal=promotion.min_subtotal,
        combines_with_codes=promotion.combines_with_codes,
        code=code.code if code is not None else "",
        code_id=code.id if code is not None else None,
    )


def running(now: datetime | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    return sa.and_(
        Promotion.paused.is_(False),
        sa.or_(Promotion.starts_at.is_(None), Promotion.starts_at <= now),
        sa.or_(Promotion.ends_at.is_(None), Promotion.ends_at > now),
    )


def automatic_rules(now: datetime | None = None) -> list[Rule]:
    """The automatic promotions running now, in the shop's currency."""
    values = {"now": now or utcnow(), "currency": current_app.config["SHOP_CURRENCY"]}
    return [rule_of(p) for p in db.session.execute(_automatic_statement(), values).scalars()]


@cache
def _automatic_statement() -> sa.Select[Promotion]:
    """:func:`automatic_rules`' query, built once per process (every cart page and every
    checkout runs it) and run with the moment and the currency as bound values."""
    return (
        sa.select(Promotion)
        .where(
            Promotion.requires_code.is_(False),
            Promotion.currency == sa.bindparam("currency"),
            running(sa.bindparam("now", type_=Promotion.starts_at.type)),
        )
        .order_by(Promotion.id)
    )


def _automatic_for_request(now: datetime) -> list[Rule]:
    """:func:`automatic_rules`, read once per request: the cart a page shows and the quote
    a checkout charges in the same request get the same promotions (and one query)."""
    if not has_request_context():
        return automatic_rules(now)
    rules: list[Rule] | None = g.get("_automatic_rules")
    if rules is None:
        rules = g._automatic_rules = automatic_rules(now)
    return rules


def find_code(code: str) -> VoucherCode | None:
    if not code:
        return None
    return db.session.execute(
        sa.select(VoucherCode).where(VoucherCode.code == code)
    ).scalar_one_or_none()


def _own_held(shopper: Shopper, column: Any, value: int) -> int:
    if not shopper.own_orders:
        return 0
    return db.session.execute(
        sa.select(sa.func.count()).where(
            column == value,
            OrderDiscount.state == UseState.HELD,
            OrderDiscount.order_id.in_(list(shopper.own_orders)),
        )
    ).scalar_one()


def customer_uses(
    promotion_id: int, *, user_id: int | None, email: str, excluding: Collection[int] = ()
) -> int:
    """Orders of this customer (account, or e-mail address) holding or having paid with
    the promotion, other than ``excluding``."""
    who = [OrderDiscount.email == email.lower()] if email else []
    if user_id is not None:
        who.append(OrderDiscount.user_id == user_id)
    if not who:
        return 0
    query = sa.select(sa.func.count()).where(
        OrderDiscount.promotion_id == promotion_id,
        OrderDiscount.state.in_([UseState.HELD, UseState.USED]),
        sa.or_(*who),
    )
    if excluding:
        query = query.where(OrderDiscount.order_id.not_in(list(excluding)))
    return db.session.execute(query).scalar_one()


def check_code(text: str, shopper: Shopper, now: datetime | None = None) -> Rule:
    """The code's rule, or :class:`PromotionError` saying why it cannot be used now (its
    arithmetic, such as a minimum spend, is :func:`evaluate`'s)."""
    now = now or utcnow()
    code = normalise_code(text)
    found = find_code(code)
    shown = code or (text or "").strip()[:CODE_MAX]
    if found is None:
        raise PromotionError(
            f"We do not know the code “{shown}”. Check it and try again.", field="code"
        )
    promotion = found.promotion
    if promotion.currency != current_app.config["SHOP_CURRENCY"]:
        raise PromotionError(f"The code {code} is not valid in this shop.", field="code")
    if promotion.paused or (promotion.ends_at is not None and promotion.ends_at <= now):
        raise PromotionError(f"The code {code} has expired.", code="voucher-expired", field="code")
    if promotion.starts_at is not None and promotion.starts_at > now:
        when = shop_time(promotion.starts_at, "%d %b %Y, %H:%M")
        raise PromotionError(
            f"The code {code} can be used from {when}.", code="voucher-not-started", field="code"
        )
    used_up = PromotionError(
        f"The code {code} has been used up.", code="voucher-used-up", field="code"
    )
    if promotion.usage_limit is not None:
        taken = promotion.uses - _own_held(shopper, OrderDiscount.promotion_id, promotion.id)
        if taken >= promotion.usage_limit:
            raise used_up
    if found.usage_limit is not None:
        taken = found.uses - _own_held(shopper, OrderDiscount.voucher_code_id, found.id)
        if taken >= found.usage_limit:
            raise used_up
    if promotion.per_customer_limit is not None and (shopper.user_id or shopper.email):
        mine = customer_uses(
            promotion.id,
            user_id=shopper.user_id,
            email=shopper.email,
            excluding=shopper.own_orders,
        )
        if mine >= promotion.per_customer_limit:
            times = "once" if promotion.per_customer_limit == 1 else "as often as it allows"
            raise PromotionError(
                f"You have already used the code {code} {times}.",
                code="voucher-used-by-customer",
                field="code",
            )
    return rule_of(promotion, found)


def deal_for(lines: Sequence[Line], *, code: str | None, shopper: Shopper) -> Deal:
    """What the promotions running now give these lines, with the cart's ``code``."""
    if not lines:
        return Deal(code=code or "")
    now = utcnow()
    rule, problem = None, ""
    if code:
        try:
            rule = check_code(code, shopper, now)
        except PromotionError as exc:
            problem = str(exc)
    shop_money = partial(money, currency=current_app.config["SHOP_CURRENCY"])
    return evaluate(
        lines,
        automatic=_automatic_for_request(now),
        code=rule,
        code_text=code or "",
        code_problem=problem,
        money=shop_money,
    )

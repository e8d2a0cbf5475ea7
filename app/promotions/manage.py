"""What staff do with promotions: create, edit, pause, duplicate, add and bulk-generate
codes, and read how they did. Every change is audited. The admin views (app/admin/
promotions.py) parse forms into :class:`PromotionInput` and call these."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.catalog.models import Category, Product, Variant
from app.core.templating import money
from app.db import upsert, utcnow
from app.extensions import db
from app.orders.models import Order
from app.orders.states import PAID_STATES
from app.promotions.models import (
    Benefit,
    OrderDiscount,
    Promotion,
    Scope,
    UseState,
    VoucherCode,
)
from app.promotions.services import CODE_MAX, PromotionError, normalise_code

MAX_GENERATED = 1000  # codes per press of "Generate"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: read aloud, typed from print
GENERATED_LENGTH = 8  # 30^8 ≈ 6.6e11 per prefix: not guessable at the apply rate limit


@dataclass
class PromotionInput:
    name: str
    requires_code: bool
    benefit: str
    value: int
    code: str = ""  # the promotion's code when it requires one and is made or edited with one
    scope: str = Scope.ORDER
    product_skus: list[str] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    min_subtotal: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    combines_with_codes: bool = False


def _check(data: PromotionInput) -> list[int]:
    """Refuse what cannot work, on the field to blame; the product ids the SKUs name."""
    if not data.name.strip():
        raise PromotionError("Enter a name shoppers will see on the discount line.", field="name")
    if data.benefit not in set(Benefit):
        raise PromotionError("Choose what the promotion gives.", field="benefit")
    if data.benefit == Benefit.PERCENT and not 1 <= data.value <= 100:
        raise PromotionError("A percentage is a whole number from 1 to 100.", field="value")
    if data.benefit == Benefit.AMOUNT and data.value <= 0:
        raise PromotionError("Enter the amount to take off.", field="value")
    if data.starts_at and data.ends_at and data.starts_at >= data.ends_at:
        raise PromotionError("The end must be after the start.", field="ends_at")
    for name in ("usage_limit", "per_customer_limit"):
        value = getattr(data, name)
        if value is not None and not 1 <= value <= 1_000_000_000:
            raise PromotionError("Leave it empty for no limit, or enter 1 or more.", field=name)
    if not data.requires_code and (data.usage_limit or data.per_customer_limit):
        raise PromotionError(
            "Limits are for promotions with a code; an automatic one applies to every cart "
            "it fits while it runs.",
            field="usage_limit",
        )
    product_ids: list[int] = []
    if data.scope == Scope.ITEMS:
        skus = [s.strip() for s in data.product_skus if s.strip()]
        found = (
            dict(
                db.session.execute(
                    sa.select(Variant.sku, Variant.product_id).where(Variant.sku.in_(skus))
                ).all()
            )
            if skus
            else {}
        )
        unknown = [s for s in skus if s not in found]
        if unknown:
            raise PromotionError(f"No product has the SKU {unknown[0]}.", field="product_skus")
        product_ids = sorted(set(found.values()))
        known = (
            set(
                db.session.execute(
                    sa.select(Category.id).where(Category.id.in_(data.category_ids))
                ).scalars()
            )
            if data.category_ids
            else set()
        )
        if set(data.category_ids) - known:
            raise PromotionError("Choose categories from the list.", field="category_ids")
        if not product_ids and not data.category_ids:
            raise PromotionError(
                "Choose the categories or products it covers (or apply it to the whole order).",
                field="category_ids",
            )
    elif data.scope != Scope.ORDER:
        raise PromotionError("Choose what it applies to.", field="scope")
    return product_ids


def _assign(promotion: Promotion, data: PromotionInput, product_ids: list[int]) -> None:
    promotion.name = data.name.strip()[:120]
    promotion.requires_code = data.requires_code
    promotion.benefit = data.benefit
    promotion.value = 0 if data.benefit == Benefit.FREE_SHIPPING else data.value
    promotion.scope = data.scope
    promotion.product_ids = product_ids if data.scope == Scope.ITEMS else []
    promotion.category_ids = sorted(set(data.category_ids)) if data.scope == Scope.ITEMS else []
    promotion.min_subtotal = data.min_subtotal
    promotion.starts_at = data.starts_at
    promotion.ends_at = data.ends_at
    promotion.usage_limit = data.usage_limit
    promotion.per_customer_limit = data.per_customer_limit
    promotion.combines_with_codes = data.combines_with_codes and not data.requires_code


def describe(promotion: Promotion) -> str:
    """ "10 % off the order", "€5.00 off 2 categories, 1 product", "free delivery"."""
    if promotion.benefit == Benefit.FREE_SHIPPING:
        what = "free delivery"
    elif promotion.benefit == Benefit.PERCENT:
        what = f"{promotion.value} % off"
    else:
        what = f"{money(promotion.value, promotion.currency)} off"
    if promotion.benefit != Benefit.FREE_SHIPPING:
        if promotion.scope == Scope.ORDER:
            what += " the order"
        else:
            parts = []
            if promotion.category_ids:
                n = len(promotion.category_ids)
                parts.append(f"{n} categor{'y' if n == 1 else 'ies'}")
            if promotion.product_ids:
                n = len(promotion.product_ids)
                parts.append(f"{n} product{'' if n == 1 else 's'}")
            what += " " + ", ".join(parts)
    if promotion.min_subtotal:
        what += f", over {money(promotion.min_subtotal, promotion.currency)}"
    return what


def _code_taken(code: str) -> bool:
    return (
        db.session.execute(sa.select(VoucherCode.id).where(VoucherCode.code == code)).first()
        is not None
    )


def _valid_new_code(text: str) -> str:
    """``text`` as a code to store, or why it cannot be one."""
    code = normalise_code(text)
    if not code:
        raise PromotionError(
            f"A code is 1 to {CODE_MAX} letters, digits, hyphens or underscores.", field="code"
        )
    if _code_taken(code):
        raise PromotionError(f"The code {code} is taken; choose another.", field="code")
    return code


def create_promotion(data: PromotionInput, *, actor_id: int | None) -> Promotion:
    product_ids = _check(data)
    code = None
    if data.requires_code:
        if not data.code.strip():
            raise PromotionError(
                "Enter the code shoppers type (you can generate single-use codes later).",
                field="code",
            )
        code = _valid_new_code(data.code)
    promotion = Promotion(currency=current_app.config["SHOP_CURRENCY"], uses=0, paused=False)
    _assign(promotion, data, product_ids)
    if code is not None:
        promotion.codes.append(VoucherCode(code=code, created_at=utcnow()))
    db.session.add(promotion)
    db.session.flush()
    audit(
        "promotion.created",
        actor_id=actor_id,
        target=f"promotion {promotion.id}",
        detail=f"{promotion.name}: {describe(promotion)}"
        + (f", code {promotion.codes[0].code}" if promotion.codes else ", automatic"),
    )
    return promotion


def update_promotion(promotion: Promotion, data: PromotionInput, *, actor_id: int | None) -> None:
    """Edits apply to carts at once; orders keep the discount they were given."""
    db.session.refresh(promotion, with_for_update=True)  # its uses, as checkouts leave them
    product_ids = _check(data)
    if promotion.requires_code != data.requires_code:
        raise PromotionError(
            "A promotion stays with or without a code; duplicate it to make the other kind.",
            field="requires_code",
        )
    if data.usage_limit is not None and data.usage_limit < promotion.uses:
        raise PromotionError(
            f"It has been used {promotion.uses} times already; the limit cannot be lower.",
            field="usage_limit",
        )
    before = describe(promotion)
    _assign(promotion, data, product_ids)
    db.session.flush()
    audit(
        "promotion.updated",
        actor_id=actor_id,
        target=f"promotion {promotion.id}",
        detail=f"{promotion.name}: {before} → {describe(promotion)}",
    )


def set_paused(promotion: Promotion, paused: bool, *, actor_id: int | None) -> None:
    promotion.paused = paused
    db.session.flush()
    audit(
        "promotion.paused" if paused else "promotion.resumed",
        actor_id=actor_id,
        target=f"promotion {promotion.id}",
        detail=promotion.name,
    )


def duplicate(promotion: Promotion, *, actor_id: int | None) -> Promotion:
    """A paused copy without codes or uses, to adjust and start."""
    copy = Promotion(
        currency=promotion.currency,
        name=f"Copy of {promotion.name}"[:120],
        requires_code=promotion.requires_code,
        benefit=promotion.benefit,
        value=promotion.value,
        scope=promotion.scope,
        product_ids=list(promotion.product_ids),
        category_ids=list(promotion.category_ids),
        min_subtotal=promotion.min_subtotal,
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        usage_limit=promotion.usage_limit,
        per_customer_limit=promotion.per_customer_limit,
        combines_with_codes=promotion.combines_with_codes,
        paused=True,
        uses=0,
    )
    db.session.add(copy)
    db.session.flush()
    audit(
        "promotion.duplicated",
        actor_id=actor_id,
        target=f"promotion {copy.id}",
        detail=f"copy of promotion {promotion.id} ({promotion.name}), paused",
    )
    return copy


def add_code(
    promotion: Promotion, text: str, *, usage_limit: int | None, actor_id: int | None
) -> VoucherCode:
    if not promotion.requires_code:
        raise PromotionError("An automatic promotion has no codes.", field="code")
    if usage_limit is not None and usage_limit < 1:
        raise PromotionError(
            "Leave it empty for no limit, or enter 1 or more.", field="usage_limit"
        )
    voucher = VoucherCode(code=_valid_new_code(text), usage_limit=usage_limit, created_at=utcnow())
    promotion.codes.append(voucher)
    db.session.flush()
    audit(
        "promotion.code_added",
        actor_id=actor_id,
        target=f"promotion {promotion.id}",
        detail=f"{voucher.code}" + (f", {usage_limit} uses" if usage_limit else ""),
    )
    return voucher


def generate_codes(
    promotion: Promotion, count: int, *, prefix: str = "", actor_id: int | None
) -> list[str]:
    """``count`` new single-use codes, ``PREFIX-XXXXXXXX``, unique (a clash is drawn again;
    the unique index decides between concurrent presses)."""
    if not promotion.requires_code:
        raise PromotionError("An automatic promotion has no codes.", field="count")
    if not 1 <= count <= MAX_GENERATED:
        raise PromotionError(f"Generate 1 to {MAX_GENERATED} codes at a time.", field="count")
    head = normalise_code(prefix) if prefix.strip() else ""
    if prefix.strip() and (not head or len(head) > 20):
        raise PromotionError(
            "A prefix is up to 20 letters, digits, hyphens or underscores.", field="prefix"
        )
    made: list[str] = []
    while len(made) < count:
        wanted = count - len(made)
        batch = {
            (f"{head}-" if head else "")
            + "".join(secrets.choice(CODE_ALPHABET) for _ in range(GENERATED_LENGTH))
            for _ in range(wanted)
        }
        batch -= set(made)
        rows = db.session.execute(
            upsert(VoucherCode)
            .values(
                [
                    {
                        "promotion_id": promotion.id,
                        "code": c,
                        "usage_limit": 1,
                        "uses": 0,
                        "created_at": utcnow(),
                    }
                    for c in sorted(batch)
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(VoucherCode.code)
        ).scalars()
        made.extend(rows)
    db.session.expire(promotion, ["codes"])
    audit(
        "promotion.codes_generated",
        actor_id=actor_id,
        target=f"promotion {promotion.id}",
        detail=f"{count} single-use codes" + (f" with the prefix {head}" if head else ""),
    )
    return made


@dataclass(frozen=True)
class Usage:
    promotion_id: int
    paid_orders: int  # orders paid with it
    revenue: int  # what those orders charged
    discount: int  # what it gave them (delivery saved included)
    waiting: int  # unpaid orders holding a use


def usage(promotion_ids: list[int] | None = None) -> dict[int, Usage]:
    """How each promotion did: paid orders, their revenue and the discount it gave (an order
    has one discount line per promotion), and the unpaid orders holding a use."""
    paid = (
        sa.select(
            OrderDiscount.promotion_id,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Order.total), 0),
            sa.func.coalesce(sa.func.sum(OrderDiscount.amount), 0),
        )
        .join(Order, Order.id == OrderDiscount.order_id)
        .where(OrderDiscount.state == UseState.USED, Order.status.in_(PAID_STATES))
        .group_by(OrderDiscount.promotion_id)
    )
    waiting = (
        sa.select(OrderDiscount.promotion_id, sa.func.count())
        .where(OrderDiscount.state == UseState.HELD)
        .group_by(OrderDiscount.promotion_id)
    )
    if promotion_ids is not None:
        paid = paid.where(OrderDiscount.promotion_id.in_(promotion_ids))
        waiting = waiting.where(OrderDiscount.promotion_id.in_(promotion_ids))
    held = {pid: int(n) for pid, n in db.session.execute(waiting).all()}
    out = {
        pid: Usage(pid, int(n), int(revenue), int(given), held.get(pid, 0))
        for pid, n, revenue, given in db.session.execute(paid).all()
        if pid is not None
    }
    for pid, n in held.items():
        if pid is not None and pid not in out:
            out[pid] = Usage(pid, 0, 0, 0, n)
    return out


@dataclass(frozen=True)
class Codes:
    count: int
    first: str  # the first code made (the one typed on the create form)


def code_summary(promotion_ids: list[int]) -> dict[int, Codes]:
    """How many codes each promotion has and its first, in two queries whatever the number
    of generated codes (a promotion may have tens of thousands)."""
    if not promotion_ids:
        return {}
    rows = db.session.execute(
        sa.select(VoucherCode.promotion_id, sa.func.count(), sa.func.min(VoucherCode.id))
        .where(VoucherCode.promotion_id.in_(promotion_ids))
        .group_by(VoucherCode.promotion_id)
    ).all()
    first_ids = [first for _, _, first in rows]
    names = dict(
        db.session.execute(
            sa.select(VoucherCode.id, VoucherCode.code).where(VoucherCode.id.in_(first_ids))
        ).all()
    )
    return {pid: Codes(int(n), names[first]) for pid, n, first in rows}


def first_codes(promotion: Promotion, limit: int = 50) -> list[VoucherCode]:
    return list(
        db.session.execute(
            sa.select(VoucherCode)
            .where(VoucherCode.promotion_id == promotion.id)
            .order_by(VoucherCode.id)
            .limit(limit)
        ).scalars()
    )


def status_of(promotion: Promotion) -> str:
    """Paused, Ended, Scheduled, Used up or Active, as staff read it."""
    now = utcnow()
    if promotion.paused:
        return "Paused"
    if promotion.ends_at is not None and promotion.ends_at <= now:
        return "Ended"
    if promotion.starts_at is not None and promotion.starts_at > now:
        return "Scheduled"
    if promotion.usage_limit is not None and promotion.uses >= promotion.usage_limit:
        return "Used up"
    return "Active"


def list_promotions() -> list[Promotion]:
    return list(db.session.execute(sa.select(Promotion).order_by(Promotion.id.desc())).scalars())


def orders_with(promotion: Promotion, limit: int = 50) -> list[tuple[OrderDiscount, Order]]:
    """The latest orders that got the promotion, with the discount line each got."""
    return [
        (d, o)
        for d, o in db.session.execute(
            sa.select(OrderDiscount, Order)
            .join(Order, Order.id == OrderDiscount.order_id)
            .where(OrderDiscount.promotion_id == promotion.id)
            .order_by(OrderDiscount.id.desc())
            .limit(limit)
        ).all()
    ]


def product_skus(promotion: Promotion) -> list[str]:
    """One SKU per covered product (the first variant's), for the edit form."""
    if not promotion.product_ids:
        return []
    rows = db.session.execute(
        sa.select(Variant.product_id, sa.func.min(Variant.sku))
        .where(Variant.product_id.in_(promotion.product_ids))
        .group_by(Variant.product_id)
    ).all()
    return [sku for _, sku in sorted(rows)]


def product_names(promotion: Promotion) -> list[str]:
    if not promotion.product_ids:
        return []
    return list(
        db.session.execute(
            sa.select(Product.name)
            .where(Product.id.in_(promotion.product_ids))
            .order_by(Product.name)
        ).scalars()
    )

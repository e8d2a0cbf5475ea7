"""Reading and writing the shop's own pages. Until staff write one, a page shows a short
default text, so the footer and the checkout never link to nothing."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.audit import audit
from app.core.html import sanitize_html
from app.core.shop_errors import ShopError
from app.db import utcnow
from app.extensions import db
from app.pages.models import ContentPage

MAX_BODY = 100_000


@dataclass(frozen=True)
class PageText:
    slug: str
    title: str
    body_html: str
    written: bool  # False: the default text, nobody has written this page yet


# slug → (title, default text): the pages a shop in the EU and UK is expected to have.
PAGES: dict[str, tuple[str, str]] = {
    "terms": (
        "Terms and conditions",
        "<p>These terms apply to every order placed in this shop. Prices include VAT where "
        "applicable; delivery costs are shown before you pay. A contract is made when we "
        "confirm your order by email.</p>",
    ),
    "privacy": (
        "Privacy policy",
        "<p>We use your details to deliver your orders and to answer you. Payments are "
        "handled by our payment provider; we never see or store your card number. You can "
        "ask us for a copy of your data, or to delete your account, at any time.</p>",
    ),
    "returns": (
        "Returns and right of withdrawal",
        "<p>You may withdraw from your purchase within 14 days of receiving the goods, "
        "without giving a reason. Tell us by email, then send the items back within 14 "
        "days; we refund the payment, including standard delivery, within 14 days.</p>",
    ),
    "shipping": (
        "Shipping and delivery",
        "<p>Delivery options, prices and times for your address are shown at checkout. "
        "You receive a tracking link by email when your order is on its way.</p>",
    ),
    "contact": (
        "Contact and imprint",
        "<p>Write to us using the email address on your order confirmation; we answer "
        "within two working days.</p>",
    ),
}


class PageError(ShopError):
    code = "page-rejected"


def get_page(slug: str) -> PageText | None:
    """The page as shoppers see it, or None for a slug the shop does not have."""
    if slug not in PAGES:
        return None
    row = db.session.execute(
        sa.select(ContentPage).where(ContentPage.slug == slug)
    ).scalar_one_or_none()
    title, default = PAGES[slug]
    if row is None:
        return PageText(slug, title, default, written=False)
    return PageText(slug, row.title, row.body_html, written=True)


def list_pages() -> list[PageText]:
    return [page for slug in PAGES if (page := get_page(slug)) is not None]


def save_page(slug: str, title: str, body: str, *, actor_id: int | None) -> PageText:
    """Store a page's title and text (sanitised with nh3; plain text keeps its paragraphs)."""
    if slug not in PAGES:
        raise LookupError(slug)
    title = " ".join((title or "").split())
    if not title:
        raise PageError("Enter a title.", field="title")
    if len(title) > 120:
        raise PageError("Keep the title to 120 characters.", field="title")
    if len(body or "") > MAX_BODY:
        raise PageError(f"Keep the text under {MAX_BODY:,} characters.", field="body")
    clean = sanitize_html(body)
    if not clean.strip():
        raise PageError("Write the page's text.", field="body")
    row = db.session.execute(
        sa.select(ContentPage).where(ContentPage.slug == slug).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = ContentPage(slug=slug, title=title, body_html=clean)
        db.session.add(row)
    row.title, row.body_html = title, clean
    row.updated_by, row.updated_at = actor_id, utcnow()
    db.session.flush()
    audit("settings.page_saved", actor_id=actor_id, target=slug, detail=title)
    return PageText(slug, title, clean, written=True)

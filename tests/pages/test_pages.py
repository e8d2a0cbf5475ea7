"""The shop's own pages: staff write them (sanitised, audited), the footer links to every one,
and a page nobody wrote yet still says something sensible."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.pages.services import PAGES
from tests.admin.helpers import csrf, sign_in_staff


def test_every_page_is_linked_from_the_footer_and_has_a_default_text(client, db):
    home = client.get("/").get_data(as_text=True)
    footer = home[home.index("<footer") :]
    for slug, (title, _) in PAGES.items():
        assert f'<a href="/pages/{slug}">{title}</a>' in footer
        page = client.get(f"/pages/{slug}")
        assert page.status_code == 200
        assert page.mimetype == "text/html"  # served as text/plain, browsers showed the source
        assert f"<h1>{title}</h1>" in page.get_data(as_text=True)
    assert client.get("/pages/admin").status_code == 404
    assert client.get("/pages/" + "x" * 500).status_code == 404


def test_staff_write_a_page_with_paragraphs_and_nothing_dangerous(client, db):
    sign_in_staff(client, "admin")
    page = "/admin/settings/pages/returns"
    form = client.get(page).get_data(as_text=True)
    assert "Returns and right of withdrawal" in form
    body = "Send it back within 30 days.\n\nWe pay the postage.<script>alert(1)</script>"
    saved = client.post(
        page, data={"title": "Returns", "body": body, "csrf_token": csrf(client, page)}
    )
    assert saved.status_code == 303
    shown = client.get("/pages/returns").get_data(as_text=True)
    assert "<p>Send it back within 30 days.</p><p>We pay the postage.</p>" in shown
    assert "<script>alert" not in shown and "<h1>Returns</h1>" in shown
    listing = client.get("/admin/settings/pages").get_data(as_text=True)
    assert "Written" in listing and "Default text" in listing
    assert db.session.execute(
        sa.select(AuditEvent.target).where(AuditEvent.action == "settings.page_saved")
    ).scalars().all() == ["returns"]


def test_an_empty_page_or_title_is_refused_with_the_form_kept(client, db):
    sign_in_staff(client, "admin")
    page = "/admin/settings/pages/terms"
    refused = client.post(page, data={"title": "", "body": "  ", "csrf_token": csrf(client, page)})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Enter a title." in html
    assert "There is a problem" in html


def test_customers_cannot_edit_pages(client, db):
    from tests.accounts.helpers import login, make_user

    make_user()
    login(client)
    assert client.get("/admin/settings/pages/terms").status_code == 404


def test_the_review_step_links_the_terms_returns_and_privacy_next_to_pay(client, db):
    from app.db import commit_unit_of_work
    from tests.catalog import factories
    from tests.checkout.helpers import add_to_cart, submit_details

    variant = factories.product("Terms Mug", stock=3).variants[0]
    commit_unit_of_work()
    add_to_cart(client, variant.id)
    submit_details(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    note = review[review.index('class="terms-note"') : review.index('<button type="submit">Pay')]
    for slug in ("terms", "returns", "privacy"):
        assert f'href="/pages/{slug}"' in note

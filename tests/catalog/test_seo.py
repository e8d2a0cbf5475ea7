"""Search engines and link previews: Open Graph and X/Twitter cards on product and category
pages, BreadcrumbList JSON-LD, absolute image URLs, no untyped microdata item."""

import json
import re

from app.catalog.images import add_product_image
from app.db import commit_unit_of_work
from tests.catalog import factories
from tests.catalog.test_images import jpeg_bytes


def lds(html):
    return [
        json.loads(raw)
        for raw in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]


def meta(html, key):
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', html)
    return found.group(1) if found else None


def test_a_product_page_carries_cards_breadcrumbs_and_absolute_urls(client, db):
    clothing = factories.category("Clothing")
    shirts = factories.category("Shirts", parent=clothing)
    shirt = factories.product(
        "Oxford Shirt", price=4500, category=shirts, description_html="<p>Crisp cotton.</p>"
    )
    add_product_image(shirt, jpeg_bytes((400, 400)), "The shirt, folded")
    commit_unit_of_work()
    html = client.get("/products/oxford-shirt").get_data(as_text=True)
    assert meta(html, "og:type") == "product"
    assert meta(html, "og:title") == "Oxford Shirt"
    assert meta(html, "og:url") == "http://localhost/products/oxford-shirt"
    assert meta(html, "twitter:card") in ("summary", "summary_large_image")
    assert "itemscope" not in html
    crumbs = next(ld for ld in lds(html) if ld["@type"] == "BreadcrumbList")
    assert [(i["position"], i["name"]) for i in crumbs["itemListElement"]] == [
        (1, "Home"),
        (2, "Clothing"),
        (3, "Shirts"),
        (4, "Oxford Shirt"),
    ]
    assert crumbs["itemListElement"][1]["item"] == "http://localhost/c/clothing"
    product = next(ld for ld in lds(html) if ld["@type"] == "Product")
    [image] = product["image"]
    assert image.startswith("http://localhost/") and image.endswith(".jpg")
    assert meta(html, "og:image") == image and meta(html, "twitter:card") == "summary_large_image"


def test_a_category_page_describes_itself(client, db):
    factories.category("Homeware")
    commit_unit_of_work()
    html = client.get("/c/homeware").get_data(as_text=True)
    assert meta(html, "og:title") == "Homeware"
    assert "Homeware at" in (meta(html, "description") or "")
    crumbs = next(ld for ld in lds(html) if ld["@type"] == "BreadcrumbList")
    assert crumbs["itemListElement"][-1]["name"] == "Homeware"


def _staff_save(client, path, **fields):
    from tests.admin.helpers import csrf

    return client.post(path, data={"csrf_token": csrf(client, path), **fields})


def test_staff_write_the_search_title_and_description_of_a_product(client, db):
    from tests.admin.helpers import sign_in_staff

    shirt = factories.product(
        "Oxford Shirt", price=4500, description_html="<p>" + "Crisp cotton, " * 30 + "</p>"
    )
    commit_unit_of_work()
    visitor = client.application.test_client()
    html = visitor.get("/products/oxford-shirt").get_data(as_text=True)
    # Defaults: the name with the shop's, the description's start cut at a word.
    assert "<title>Oxford Shirt · " in html
    default = meta(html, "description")
    assert default.startswith("Crisp cotton, Crisp cotton,") and default.endswith("…")
    assert len(default) <= 160

    sign_in_staff(client, "staff")
    page = f"/admin/products/{shirt.id}"
    form = client.get(page).get_data(as_text=True)
    assert 'name="meta_title"' in form and "Search engines and link previews" in form
    common = {"name": "Oxford Shirt", "description": shirt.description_html, "category_id": "0"}
    too_long = _staff_save(client, page, **common, meta_title="x" * 121)
    assert too_long.status_code == 422
    assert "Field cannot be longer than 120 characters." in too_long.get_data(as_text=True)
    saved = _staff_save(
        client,
        page,
        **common,
        meta_title="Oxford Shirt in crisp cotton | Free returns",
        meta_description="  The shirt\nthat goes with everything.  ",
    )
    assert saved.status_code == 302
    html = visitor.get("/products/oxford-shirt").get_data(as_text=True)
    assert "<title>Oxford Shirt in crisp cotton | Free returns</title>" in html
    assert meta(html, "og:title") == "Oxford Shirt in crisp cotton | Free returns"
    assert meta(html, "description") == "The shirt that goes with everything."
    assert meta(html, "twitter:description") == "The shirt that goes with everything."
    # Emptied: back to the defaults.
    assert (
        _staff_save(client, page, **common, meta_title="", meta_description="").status_code == 302
    )
    html = visitor.get("/products/oxford-shirt").get_data(as_text=True)
    assert "<title>Oxford Shirt · " in html and meta(html, "description") == default


def test_staff_write_the_search_title_and_description_of_a_category(client, db):
    from tests.admin.helpers import sign_in_staff

    lamps = factories.category("Lamps")
    lamps.description = "Desk lamps, floor lamps and pendants, in brass and linen."
    commit_unit_of_work()
    visitor = client.application.test_client()
    html = visitor.get("/c/lamps").get_data(as_text=True)
    assert meta(html, "description") == lamps.description  # the category's own words first

    sign_in_staff(client, "staff")
    page = f"/admin/categories/{lamps.id}"
    saved = _staff_save(
        client,
        page,
        name="Lamps",
        slug="lamps",
        parent_id="0",
        description=lamps.description,
        meta_title="Designer lamps — made in Porto",
        meta_description="Brass and linen lamps, made to order.",
    )
    assert saved.status_code == 302
    html = visitor.get("/c/lamps").get_data(as_text=True)
    assert "<title>Designer lamps — made in Porto</title>" in html
    assert meta(html, "og:title") == "Designer lamps — made in Porto"
    assert meta(html, "og:description") == "Brass and linen lamps, made to order."

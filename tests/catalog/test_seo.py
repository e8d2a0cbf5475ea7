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

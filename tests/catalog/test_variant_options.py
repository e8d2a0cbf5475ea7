"""One control per variant option: what the shopper sees and which variant a choice means."""

import re

import pytest
import sqlalchemy as sa

from app.catalog.services import VariantInput
from app.catalog.variants import option_groups, resolve
from app.db import commit_unit_of_work
from tests.catalog import factories

SPECS = [  # Navy S is not made; Olive M is sold out
    ("FJ-OS", "S", "Olive", 12900, 3),
    ("FJ-OM", "M", "Olive", 12900, 0),
    ("FJ-OL", "L", "Olive", 13400, 5),
    ("FJ-NM", "M", "Navy", 13900, 4),
    ("FJ-NL", "L", "Navy", 13900, 2),
]


@pytest.fixture
def jacket(db):
    product = factories.product(
        "Field Jacket",
        variants=[
            VariantInput(sku=sku, price=price, options={"size": size, "colour": colour}, stock=n)
            for sku, size, colour, price, n in SPECS
        ],
    )
    commit_unit_of_work()
    return product


def _by_sku(product, sku):
    return next(v for v in product.variants if v.sku == sku)


def _states(groups):
    return {g.name: {v.value: (v.state, v.checked) for v in g.values} for g in groups}


def test_groups_mark_each_value_as_it_would_be_bought_with_the_other_choices(jacket):
    groups = option_groups(jacket.variants, _by_sku(jacket, "FJ-OS"))
    assert [g.name for g in groups] == ["size", "colour"]
    assert _states(groups) == {
        "size": {
            "S": ("available", True),
            "M": ("sold_out", False),  # Olive M exists with no stock
            "L": ("available", False),
        },
        "colour": {"Olive": ("available", True), "Navy": ("unavailable", False)},  # no Navy S
    }
    groups = option_groups(jacket.variants, _by_sku(jacket, "FJ-NM"))
    assert _states(groups)["size"] == {
        "S": ("unavailable", False),
        "M": ("available", True),
        "L": ("available", False),
    }


@pytest.mark.parametrize(
    ("shown", "chosen", "expected"),
    [
        ("FJ-OS", {"size": "L", "colour": "Olive"}, "FJ-OL"),  # size changed
        ("FJ-OL", {"size": "L", "colour": "Navy"}, "FJ-NL"),  # colour changed
        # Navy with S kept does not exist: Navy wins (it was the change), in stock M first.
        ("FJ-OS", {"size": "S", "colour": "Navy"}, "FJ-NM"),
        # S with Navy kept does not exist: S wins, the colour follows.
        ("FJ-NM", {"size": "S", "colour": "Navy"}, "FJ-OS"),
        ("FJ-OS", {"size": "M", "colour": "Olive"}, "FJ-OM"),  # sold out is still shown
        ("FJ-OS", {"size": "S", "colour": "Olive"}, "FJ-OS"),  # nothing changed
    ],
)
def test_a_choice_resolves_to_the_variant_the_shopper_means(jacket, shown, chosen, expected):
    result = resolve(jacket.variants, _by_sku(jacket, shown), chosen)
    assert result.sku == expected


def test_the_page_has_a_radio_group_per_option_with_sold_out_marked(client, jacket):
    html = client.get("/products/field-jacket").get_data(as_text=True)
    assert "SKU: FJ-OS" in html  # the first variant in stock
    assert re.search(r"<legend>Size: <span[^>]*>S</span></legend>", html)
    assert re.search(r"<legend>Colour: <span[^>]*>Olive</span></legend>", html)
    assert len(re.findall(r'type="radio"[^>]*name="option1"', html)) == 3
    assert len(re.findall(r'type="radio"[^>]*name="option2"', html)) == 2
    assert re.search(
        r'class="option-chip option-sold-out">M<span class="option-note"> sold out', html
    )
    assert "<select" not in html


def test_without_javascript_a_choice_redirects_to_the_variant_page(client, jacket):
    os_, nl = _by_sku(jacket, "FJ-OS"), _by_sku(jacket, "FJ-NL")
    response = client.get(f"/products/field-jacket?variant={os_.id}&option1=L&option2=Navy")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/products/field-jacket?variant={nl.id}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SKU: FJ-NL" in html and "€139.00" in html and "Only 2 left" in html


def test_with_htmx_the_panel_is_swapped_the_url_pushed_and_the_change_announced(client, jacket):
    os_, ol = _by_sku(jacket, "FJ-OS"), _by_sku(jacket, "FJ-OL")
    response = client.get(
        f"/products/field-jacket?variant={os_.id}&option1=L&option2=Olive",
        headers={"HX-Request": "true", "HX-Target": "variant-panel"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"/products/field-jacket?variant={ol.id}"
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="variant-panel"') and "SKU: FJ-OL" in html
    status = '<p id="variant-status" hx-swap-oob="innerHTML">'
    assert status + "Size L, colour Olive: €134.00, only 5 left.</p>" in html


@pytest.mark.parametrize(
    "query",
    ["option1=XXL", "option1=%00", "option2=" + "N" * 5000, "option9=S", "option1=S&option1=L"],
)
def test_unknown_option_values_keep_the_shown_variant(client, jacket, query):
    os_ = _by_sku(jacket, "FJ-OS")
    response = client.get(f"/products/field-jacket?variant={os_.id}&{query}")
    assert response.status_code in (303, 400)
    if response.status_code == 303:
        assert response.headers["Location"] == f"/products/field-jacket?variant={os_.id}"


def test_single_value_options_are_text_and_optionless_variants_are_chosen_by_sku(client, db):
    factories.product(
        "Enamel Pin",
        variants=[
            VariantInput(sku="PIN-A", price=500, options={"colour": "Red"}, stock=1),
        ],
    )
    factories.product(
        "Gift Card",
        variants=[
            VariantInput(sku="GIFT-25", price=2500, options={}, stock=9),
            VariantInput(sku="GIFT-50", price=5000, options={}, stock=9),
        ],
    )
    commit_unit_of_work()
    html = client.get("/products/enamel-pin").get_data(as_text=True)
    assert "Colour: <strong>Red</strong>" in html and 'type="radio"' not in html
    assert "Show this option" not in html
    html = client.get("/products/gift-card").get_data(as_text=True)
    assert "<legend>Option: " in html and 'value="GIFT-50"' in html
    gift = client.get("/products/gift-card").get_data(as_text=True)
    first = re.search(r'name="variant" value="(\d+)"', gift).group(1)
    response = client.get(f"/products/gift-card?variant={first}&option1=GIFT-50")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SKU: GIFT-50" in html


def _csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def test_without_javascript_show_this_option_posts_the_ticked_options(client, jacket):
    os_, nl = _by_sku(jacket, "FJ-OS"), _by_sku(jacket, "FJ-NL")
    html = client.get("/products/field-jacket").get_data(as_text=True)
    assert 'formaction="/products/field-jacket/choose"' in html
    data = {"csrf_token": _csrf(client, "/products/field-jacket"), "variant_id": os_.id}
    response = client.post(
        "/products/field-jacket/choose", data={**data, "option1": "L", "option2": "Navy"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/products/field-jacket?variant={nl.id}"
    assert (
        client.post("/products/field-jacket/choose", data={"variant_id": os_.id}).status_code == 400
    )


def test_add_to_cart_adds_the_ticked_options_not_the_variant_shown(client, jacket):
    """Without JavaScript the page is not updated between ticking L and pressing Add."""
    from app.cart.models import CartLine
    from app.extensions import db

    os_, ol = _by_sku(jacket, "FJ-OS"), _by_sku(jacket, "FJ-OL")
    data = {
        "csrf_token": _csrf(client, "/products/field-jacket"),
        "variant_id": os_.id,
        "option1": "L",
        "option2": "Olive",
        "quantity": "1",
    }
    response = client.post("/cart/add", data=data)
    assert response.status_code == 303
    assert db.session.execute(sa.select(CartLine.variant_id)).scalars().all() == [ol.id]
    page = client.get("/cart").get_data(as_text=True)
    assert "Added Field Jacket, size: L, colour: Olive — 1 in your cart." in page


def test_the_options_request_carries_only_the_options(client, jacket):
    """htmx sends the option group's own inputs (hx-include="this"): never the CSRF token or
    the quantity in a GET URL."""
    html = client.get("/products/field-jacket").get_data(as_text=True)
    options = html.split('<div class="variant-options"')[1].split("</div>\n    <button")[0]
    assert 'hx-include="this"' in options and 'hx-trigger="change"' in options
    assert "csrf_token" not in options and 'name="quantity"' not in options
    assert 'name="variant"' in options

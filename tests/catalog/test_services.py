import pytest
import sqlalchemy as sa

from app.catalog.models import PriceChange, StockMovement, Variant
from app.catalog.queries import descendant_ids_subquery, get_category_tree
from app.catalog.services import CatalogError, VariantInput, create_product, set_variant_price
from app.inventory.services import InsufficientStock, adjust_stock
from tests.catalog import factories


def test_slugs_are_unique_and_stable(db):
    first = factories.product("Wool Jumper")
    second = factories.product("Wool Jumper")
    third = factories.product("Wool Jumper")
    assert [first.slug, second.slug, third.slug] == [
        "wool-jumper",
        "wool-jumper-2",
        "wool-jumper-3",
    ]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Привет мир", "privet-mir"),
        ("Crème brûlée Ø 20 cm", "creme-brulee-o-20-cm"),
        ("Straße & Äpfel", "strasse-apfel"),
        ("東京 タンブラー", "dong-jing-tanhura"),
        ("🎉🎉", "item"),  # nothing to spell: the fallback
    ],
)
def test_slugs_spell_every_script_in_ascii(db, name, slug):
    """Names in Cyrillic or Japanese used to become "item"; they are transliterated."""
    assert factories.product(name).slug == slug


def test_description_is_sanitised_on_save(db):
    product = factories.product(
        description_html='<p onclick="steal()">Soft <script>alert(1)</script><b>wool</b>'
        '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)></p>'
    )
    assert "script" not in product.description_html
    assert "onclick" not in product.description_html and "onerror" not in product.description_html
    assert "javascript:" not in product.description_html
    assert "<b>wool</b>" in product.description_html
    assert product.description_text == "Soft wool x"


def test_product_needs_a_variant_and_positive_prices(db):
    with pytest.raises(CatalogError, match="at least one variant"):
        create_product("Empty", [])
    with pytest.raises(CatalogError, match="greater than zero"):
        create_product("Free", [VariantInput(sku="FREE-1", price=0, options={})])


def test_summary_tracks_price_range_and_stock(db):
    product = factories.product(
        variants=[
            VariantInput(sku="S-1", price=1000, options={"size": "S"}, stock=0),
            VariantInput(sku="S-2", price=1500, options={"size": "M"}, stock=3),
        ]
    )
    assert (product.price_min, product.price_max, product.in_stock) == (1000, 1500, True)
    adjust_stock(product.variants[1].id, -3, note="damaged")
    assert product.in_stock is False
    set_variant_price(product.variants[0], 900)
    assert product.price_min == 900


def test_price_changes_are_recorded(db):
    product = factories.product(price=2000)
    variant = product.variants[0]
    set_variant_price(variant, 1800, compare_at_price=2000, actor_id=7)
    history = db.session.execute(
        sa.select(PriceChange.old_price, PriceChange.new_price, PriceChange.actor_id)
        .where(PriceChange.variant_id == variant.id)
        .order_by(PriceChange.id)
    ).all()
    assert history == [(None, 2000, None), (2000, 1800, 7)]
    with pytest.raises(CatalogError, match="compare-at price must be above"):
        set_variant_price(variant, 1800, compare_at_price=1000)


def test_stock_can_never_go_below_zero_or_below_reserved(db):
    product = factories.product(stock=4)
    variant = product.variants[0]
    db.session.execute(sa.update(Variant).where(Variant.id == variant.id).values(reserved=3))
    with pytest.raises(InsufficientStock):
        adjust_stock(variant.id, -2)  # 4 - 2 = 2 < 3 reserved
    with pytest.raises(InsufficientStock):
        adjust_stock(variant.id, -10)
    adjust_stock(variant.id, -1, note="count correction")
    db.session.refresh(variant)
    assert (variant.stock_on_hand, variant.reserved) == (3, 3)
    ledger = db.session.execute(
        sa.select(StockMovement.on_hand_delta, StockMovement.reason, StockMovement.note)
        .where(StockMovement.variant_id == variant.id)
        .order_by(StockMovement.id)
    ).all()
    assert ledger == [(4, "initial", ""), (-1, "adjustment", "count correction")]


def test_category_descendants_in_one_statement(db, count_queries):
    clothing = factories.category("Clothing")
    men = factories.category("Men", clothing)
    shirts = factories.category("Shirts", men)
    factories.category("Home")
    db.session.flush()
    tree = get_category_tree()
    node = tree.by_path("clothing")
    before = count_queries.count
    ids = set(db.session.execute(descendant_ids_subquery(node)).scalars())
    assert count_queries.count - before == 1
    assert ids == {clothing.id, men.id, shirts.id}
    assert tree.by_path("clothing/men/shirts").id == shirts.id
    assert [n.name for n in tree.ancestors(tree.by_path("clothing/men/shirts"))] == [
        "Clothing",
        "Men",
        "Shirts",
    ]


def test_a_sku_lost_to_the_unique_index_is_a_field_error_and_nothing_is_half_written(db):
    """The index decides a SKU race (no pre-check in create_product): the service undoes its
    own writes (a savepoint) and refuses with the sku field, so a view needs no savepoint."""
    from app.catalog.models import Product

    factories.product("Oak Lamp", variants=[VariantInput(sku="LAMP-1", price=100, options={})])
    with pytest.raises(CatalogError) as refused:
        factories.product("Copy Lamp", variants=[VariantInput(sku="LAMP-1", price=100, options={})])
    assert refused.value.field == "sku" and refused.value.code == "sku-taken"
    assert "LAMP-1 is already used" in str(refused.value)
    names = db.session.execute(sa.select(Product.name)).scalars().all()
    assert names == ["Oak Lamp"]  # the session goes on; the copy left nothing behind

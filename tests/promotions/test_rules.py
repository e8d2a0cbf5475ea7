"""The arithmetic of promotions, without a database: spreading, rounding, what combines."""

import pytest

from app.promotions.rules import Line, Rule, evaluate, spread

SHIRT = Line(key=1, product_id=10, category_path="/1/4/", amount=3000)  # Clothing › Shirts
MUG = Line(key=2, product_id=20, category_path="/2/", amount=1500)  # Kitchen
LAMP = Line(key=3, product_id=30, category_path="", amount=4001)  # no category


def percent(value, **kw):
    return Rule(
        promotion_id=kw.pop("pid", 1),
        name=kw.pop("name", "Sale"),
        benefit="percent",
        value=value,
        **kw,
    )


def amount(value, **kw):
    return Rule(
        promotion_id=kw.pop("pid", 2),
        name=kw.pop("name", "Fiver"),
        benefit="amount",
        value=value,
        **kw,
    )


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # the cent left over goes to the first largest remainder
        (500, [3000, 1500], [333, 167]),
        (7, [0, 5], [0, 7]),
        (0, [10, 20], [0, 0]),
        (10, [0, 0], [0, 0]),
    ],
)
def test_spread_adds_up_exactly(total, weights, parts):
    assert spread(total, weights) == parts
    assert sum(parts) == (total if sum(weights) else 0)


def test_percent_rounds_half_up_per_line():
    deal = evaluate([SHIRT, LAMP], automatic=[], code=percent(15, code="SAVE15", code_id=9))
    assert deal.line_discounts == {1: 450, 3: 600}  # 4001 * 0.15 = 600.15
    assert deal.code_problem == ""
    [applied] = deal.items
    assert (applied.code, applied.amount, applied.target) == ("SAVE15", 1050, "items")


def test_a_fixed_amount_is_spread_in_proportion_and_never_more_than_the_lines():
    deal = evaluate([SHIRT, MUG], automatic=[], code=amount(900, code="NINE", code_id=1))
    assert deal.line_discounts == {1: 600, 2: 300}
    big = evaluate([MUG], automatic=[], code=amount(10_000, code="HUGE", code_id=1))
    assert big.line_discounts == {2: 1500}  # the mug is free, never less than free


def test_a_category_covers_its_subcategories_and_products_by_id():
    clothing = percent(10, scope="items", category_ids=frozenset({1}), code="CLOTH", code_id=1)
    deal = evaluate([SHIRT, MUG, LAMP], automatic=[], code=clothing)
    assert deal.line_discounts == {1: 300}
    lamp = percent(50, scope="items", product_ids=frozenset({30}), code="LAMP", code_id=2)
    assert evaluate([SHIRT, LAMP], automatic=[], code=lamp).line_discounts == {3: 2001}


def test_a_code_for_nothing_in_the_cart_says_so():
    kitchen = percent(10, scope="items", category_ids=frozenset({2}), code="KITCHEN", code_id=1)
    deal = evaluate([SHIRT], automatic=[], code=kitchen)
    assert deal.line_discounts == {} and deal.items == ()
    assert deal.code_problem == "The code KITCHEN does not apply to anything in your cart."


def test_a_minimum_spend_says_how_much_more_to_add():
    rule = amount(500, min_subtotal=5000, code="BIG", code_id=1)
    deal = evaluate([SHIRT, MUG], automatic=[], code=rule, money=lambda a: f"€{a / 100:.2f}")
    assert deal.items == ()
    assert deal.code_problem == "The code BIG needs a spend of €50.00; add €5.00 more to use it."
    assert evaluate([SHIRT, MUG, LAMP], automatic=[], code=rule).line_discounts


def test_the_best_automatic_promotion_applies_alone():
    small = percent(5, pid=1, name="Five")
    big = percent(20, pid=2, name="Twenty", scope="items", category_ids=frozenset({1}))
    deal = evaluate([SHIRT, MUG], automatic=[small, big], code=None)
    assert [a.name for a in deal.items] == ["Twenty"]  # 600 beats 225
    assert deal.line_discounts == {1: 600}


def test_a_code_adds_to_an_automatic_promotion_that_combines():
    weekend = percent(10, pid=1, name="Weekend", combines_with_codes=True)
    code = percent(10, pid=2, name="Welcome", code="WELCOME10", code_id=5)
    deal = evaluate([SHIRT], automatic=[weekend], code=code)
    assert [a.name for a in deal.items] == ["Weekend", "Welcome"]
    assert deal.line_discounts == {1: 300 + 270}  # the code takes 10 % of what is left


def test_without_combining_the_bigger_saving_wins_and_the_other_is_explained():
    weekend = percent(15, pid=1, name="Weekend sale")
    small_code = percent(10, pid=2, name="Welcome", code="WELCOME10", code_id=5)
    deal = evaluate([SHIRT], automatic=[weekend], code=small_code)
    assert [a.name for a in deal.items] == ["Weekend sale"]
    assert deal.code_problem == (
        "The code WELCOME10 cannot be combined with Weekend sale, which already saves you more."
    )
    big_code = percent(25, pid=3, name="VIP", code="VIP25", code_id=6)
    deal = evaluate([SHIRT], automatic=[weekend], code=big_code)
    assert [a.name for a in deal.items] == ["VIP"] and deal.code_problem == ""
    assert deal.line_discounts == {1: 750}


def test_free_shipping_combines_with_an_items_discount():
    weekend = percent(10, pid=1, name="Weekend")
    ship = Rule(
        promotion_id=3,
        name="Free delivery",
        benefit="free_shipping",
        value=0,
        code="SHIPFREE",
        code_id=7,
    )
    deal = evaluate([SHIRT], automatic=[weekend], code=ship)
    assert deal.free_shipping is not None and deal.free_shipping.code == "SHIPFREE"
    assert deal.line_discounts == {1: 300} and deal.code_problem == ""


def test_a_free_delivery_code_is_not_spent_when_delivery_is_free_automatically():
    auto = Rule(promotion_id=4, name="Free delivery weekend", benefit="free_shipping", value=0)
    ship = Rule(
        promotion_id=3,
        name="Free delivery",
        benefit="free_shipping",
        value=0,
        code="SHIPFREE",
        code_id=7,
    )
    deal = evaluate([SHIRT], automatic=[auto], code=ship)
    assert deal.free_shipping is not None and deal.free_shipping.code == ""
    assert deal.code_problem == (
        "Delivery is already free with Free delivery weekend; keep the code SHIPFREE for "
        "another order."
    )

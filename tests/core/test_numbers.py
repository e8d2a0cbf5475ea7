"""The one parser for numbers from outside (app.core.numbers)."""

from __future__ import annotations

import time

import pytest

from app.core.numbers import MAX_ID, clamp_int, page_number, parse_id, parse_int


@pytest.mark.parametrize(
    "raw",
    ["²", "٣", "𝟗", "1_000", "+5", " ", "", "1e3", "1.0", "0x10", "NaN", "9" * 19, None, True],
)
def test_only_ascii_digits_of_bounded_length_are_numbers(raw):
    assert parse_int(raw) is None


def test_numbers_and_ranges():
    assert parse_int(" 42 ") == 42
    assert parse_int("-3") is None and parse_int("-3", signed=True) == -3
    assert parse_int(7, maximum=5) is None
    assert parse_int("5", minimum=1, maximum=5) == 5


@pytest.mark.parametrize(
    ("raw", "ident"),
    [
        ("1", 1),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("0", None),
        ("99999999999999999999", None),
    ],
)
def test_ids_fit_the_database_integer(raw, ident):
    assert parse_id(raw) == ident


def test_pages_are_clamped_not_refused():
    assert page_number(None) == 1
    assert page_number("²") == 1
    assert page_number("-4") == 1
    assert page_number("0") == 1
    assert page_number("7") == 7
    assert page_number("99999999999999999999") == 10_000
    assert clamp_int("500", 24, 1, 96) == 96
    assert clamp_int("abc", 24, 1, 96) == 24


def test_a_million_digits_is_refused_at_once():
    started = time.perf_counter()
    assert parse_int("9" * 1_000_000) is None
    assert page_number("9" * 1_000_000) == 10_000
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/orders/2147483647", 404),
        ("/admin/orders/2147483648", 404),
        ("/admin/orders/0", 404),
        ("/admin/orders/007", 404),
        ("/admin/orders/%D9%A3", 404),
        ("/dev/outbox/99999999999999999999", 404),
    ],
)
def test_path_ids_outside_the_range_never_reach_a_view(client, path, status):
    assert client.get(path).status_code == status


def test_every_int_route_refuses_big_ids_with_404_not_405(client):
    """The range lives in the converter's pattern: a sibling rule with other methods must not
    turn an impossible id into 405 Method Not Allowed."""
    for method in ("delete", "patch"):
        response = getattr(client, method)("/api/v1/cart/items/2147483648", json={"quantity": 1})
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"

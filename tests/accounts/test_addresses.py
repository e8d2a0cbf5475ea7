"""Address book: CRUD, defaults, country rules, the per-user limit and no IDOR."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.addresses import add_address
from app.accounts.models import Address, User
from app.accounts.profile import MAX_ADDRESSES, countries
from app.extensions import db as _db
from tests.accounts.helpers import csrf_token, login, make_user

GB = {
    "full_name": "Ada Lovelace",
    "line1": "10 Downing Street",
    "line2": "",
    "city": "London",
    "region": "",
    "postal_code": "SW1A 2AA",
    "country": "GB",
    "phone": "",
}
US = {
    **GB,
    "line1": "1600 Pennsylvania Avenue NW",
    "city": "Washington",
    "region": "DC",
    "postal_code": "20500",
    "country": "US",
}


def signed_in(client, email: str = "ada@example.com") -> User:
    user = make_user(email)
    assert login(client, email).status_code == 302
    return user


def rows(user_id: int) -> list[Address]:
    _db.session.expire_all()
    return list(
        _db.session.execute(
            sa.select(Address).where(Address.user_id == user_id).order_by(Address.id)
        ).scalars()
    )


def defaults(user_id: int) -> tuple[list[int], list[int]]:
    addresses = rows(user_id)
    return (
        [a.id for a in addresses if a.is_default_shipping],
        [a.id for a in addresses if a.is_default_billing],
    )


def post_new(client, **fields):
    token = csrf_token(client, "/account/addresses/new")
    return client.post("/account/addresses/new", data={**GB, **fields, "csrf_token": token})


def test_new_address_form_is_accessible_and_lists_countries(client, db):
    signed_in(client)
    response = client.get("/account/addresses/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("full_name", "line1", "line2", "city", "region", "postal_code", "country"):
        assert f'<label for="{name}">' in html
    assert '<option selected value="GB">United Kingdom</option>' in html
    assert "style=" not in html and "<script>" not in html
    codes = [code for code, _ in countries()]
    names = [name for _, name in countries()]
    assert names.index("Åland Islands") < names.index("Albania") < names.index("Zimbabwe")
    assert names.index("Côte d’Ivoire") < names.index("Croatia")
    assert all(len(c) == 2 and c.isalpha() for c in codes)
    assert {"GB", "US", "DE", "IE", "HK"} <= set(codes)
    assert not {"EU", "ZZ", "UN", "QO"} & set(codes)


def test_first_address_becomes_both_defaults(client, db):
    user = signed_in(client)
    response = post_new(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/addresses"
    [address] = rows(user.id)
    assert address.is_default_shipping and address.is_default_billing
    assert address.postal_code == "SW1A 2AA" and address.country == "GB"
    html = client.get("/account/addresses").get_data(as_text=True)
    assert "<caption>" in html
    assert "Default shipping" in html and "Default billing" in html
    assert "United Kingdom" in html


def test_edit_and_delete_an_address(client, db):
    user = signed_in(client)
    post_new(client)
    post_new(client, line1="221B Baker Street", postal_code="NW1 6XE")
    first, second = rows(user.id)
    path = f"/account/addresses/{second.id}/edit"
    page = client.get(path)
    assert page.status_code == 200 and "221B Baker Street" in page.get_data(as_text=True)
    token = csrf_token(client, path)
    response = client.post(
        path, data={**GB, "line1": "221B Baker St", "postal_code": "nw16xe", "csrf_token": token}
    )
    assert response.status_code == 302
    _, second = rows(user.id)
    assert second.line1 == "221B Baker St" and second.postal_code == "NW1 6XE"
    assert not second.is_default_shipping  # an edit does not move defaults unless asked

    response = client.post(f"/account/addresses/{second.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    assert [a.id for a in rows(user.id)] == [first.id]


def test_switching_defaults_leaves_exactly_one_of_each_kind(client, db):
    user = signed_in(client)
    for line in ("1 First Street", "2 Second Street", "3 Third Street"):
        post_new(client, line1=line)
    a, b, c = rows(user.id)
    assert defaults(user.id) == ([a.id], [a.id])

    token = csrf_token(client, "/account/addresses")
    client.post(
        f"/account/addresses/{b.id}/default", data={"kind": "shipping", "csrf_token": token}
    )
    assert defaults(user.id) == ([b.id], [a.id])
    client.post(f"/account/addresses/{c.id}/default", data={"kind": "billing", "csrf_token": token})
    assert defaults(user.id) == ([b.id], [c.id])
    client.post(
        f"/account/addresses/{c.id}/default", data={"kind": "shipping", "csrf_token": token}
    )
    assert defaults(user.id) == ([c.id], [c.id])

    bad = client.post(f"/account/addresses/{a.id}/default", data={"kind": "x", "csrf_token": token})
    assert bad.status_code == 400
    assert defaults(user.id) == ([c.id], [c.id])

    # A new address asked to be the default takes it over.
    post_new(client, line1="4 Fourth Street", default_billing="y")
    d = rows(user.id)[-1]
    assert defaults(user.id) == ([c.id], [d.id])

    # Deleting a default hands it to the oldest remaining address.
    client.post(f"/account/addresses/{c.id}/delete", data={"csrf_token": token})
    assert defaults(user.id) == ([a.id], [d.id])


def test_us_zip_code_is_validated_with_a_message(client, db):
    user = signed_in(client)
    response = post_new(client, **{**US, "postal_code": "2050"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a valid ZIP code for United States" in html
    assert 'aria-describedby="postal_code-hint postal_code-error"' in html
    assert rows(user.id) == []
    assert post_new(client, **{**US, "postal_code": "20500-0003"}).status_code == 302


def test_us_address_needs_a_state(client, db):
    user = signed_in(client)
    response = post_new(client, **{**US, "region": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the state." in html
    assert '<label for="region">State</label>' in html
    assert rows(user.id) == []


def test_gb_postcode_is_normalised(client, db):
    user = signed_in(client)
    assert post_new(client, postal_code="sw1a1aa").status_code == 302
    assert rows(user.id)[0].postal_code == "SW1A 1AA"
    response = post_new(client, postal_code="12345")
    assert response.status_code == 422
    assert "Enter a valid postcode for United Kingdom" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("country", "postal_code", "stored"),
    [
        ("NL", "1012ab", "1012 AB"),
        ("CA", "k1a0b1", "K1A 0B1"),
        ("DE", "10115", "10115"),
        ("FR", "75001", "75001"),
        ("IE", "", ""),
        ("HK", "", ""),
        ("AE", "", ""),
        ("JP", "100-0001", "100-0001"),
    ],
)
def test_postal_codes_by_country(client, db, country, postal_code, stored):
    user = signed_in(client)
    region = "ON" if country == "CA" else ""
    response = post_new(client, country=country, postal_code=postal_code, region=region)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert rows(user.id)[0].postal_code == stored


@pytest.mark.parametrize(("country", "postal_code"), [("DE", "1011"), ("FR", ""), ("NL", "12AB")])
def test_wrong_or_missing_postal_codes_are_refused(client, db, country, postal_code):
    user = signed_in(client)
    response = post_new(client, country=country, postal_code=postal_code)
    assert response.status_code == 422
    assert rows(user.id) == []


def test_address_phone_is_stored_as_e164(client, db):
    user = signed_in(client)
    assert post_new(client, phone="020 7946 0958").status_code == 302
    assert rows(user.id)[0].phone == "+442079460958"
    response = post_new(client, phone="123")
    assert response.status_code == 422
    assert "Enter a valid phone number" in response.get_data(as_text=True)


def test_unknown_country_is_refused(client, db):
    user = signed_in(client)
    response = post_new(client, country="EU")
    assert response.status_code == 422
    assert "Choose a country from the list." in response.get_data(as_text=True)
    assert rows(user.id) == []


def test_the_21st_address_is_refused(client, db):
    user = signed_in(client)
    for n in range(MAX_ADDRESSES):
        add_address(user, {**GB, "line1": f"{n} High Street"})
    _db.session.flush()
    page = client.get("/account/addresses/new")
    assert page.status_code == 302 and page.headers["Location"] == "/account/addresses"
    token = csrf_token(client, "/account/addresses")
    response = client.post(
        "/account/addresses/new", data={**GB, "line1": "21 High Street", "csrf_token": token}
    )
    assert response.status_code == 422
    assert f"You can keep up to {MAX_ADDRESSES} addresses" in response.get_data(as_text=True)
    assert len(rows(user.id)) == MAX_ADDRESSES
    listing = client.get("/account/addresses").get_data(as_text=True)
    assert 'href="/account/addresses/new"' not in listing


def test_another_users_address_is_not_found(client, app, db):
    owner = make_user("owner@example.com", name="Owner Person")
    add_address(owner, GB)
    add_address(owner, {**GB, "line1": "2 Other Road"})
    _db.session.flush()
    target, other = rows(owner.id)
    before = {c: getattr(target, c) for c in ("line1", "is_default_shipping", "postal_code")}

    signed_in(client, "mallory@example.com")
    token = csrf_token(client, "/account/addresses")
    base = f"/account/addresses/{target.id}"
    assert client.get(f"{base}/edit").status_code == 404
    assert (
        client.post(f"{base}/edit", data={**GB, "line1": "Hacked", "csrf_token": token}).status_code
        == 404
    )
    assert client.post(f"{base}/delete", data={"csrf_token": token}).status_code == 404
    for kind in ("shipping", "billing"):
        response = client.post(f"{base}/default", data={"kind": kind, "csrf_token": token})
        assert response.status_code == 404
    response = client.post(
        f"/account/addresses/{other.id}/default", data={"kind": "shipping", "csrf_token": token}
    )
    assert response.status_code == 404
    assert client.get("/account/addresses/999999/edit").status_code == 404

    target, other = rows(owner.id)
    assert {c: getattr(target, c) for c in before} == before
    assert not other.is_default_shipping
    listing = client.get("/account/addresses").get_data(as_text=True)
    assert "Downing" not in listing


def test_address_list_forms_carry_csrf_tokens(client, db):
    signed_in(client)
    post_new(client)
    html = client.get("/account/addresses").get_data(as_text=True)
    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", html, flags=re.S)
    assert len(forms) >= 2
    assert all('name="csrf_token"' in form for form in forms)

"""Property-based run of the OpenAPI document against the app, in process (schemathesis).

Every operation gets generated valid and invalid requests; no answer may be a 5xx and every
answer must match the document (status codes, content types, response schemas).

schemathesis' pytest loader (``schemathesis.pytest.from_fixture``) reads a private pytest
attribute that pytest 9 removed, so the operations are driven with Hypothesis directly.
"""

from __future__ import annotations

import contextvars

import pytest
import schemathesis  # noqa: E402 - a dev dependency (pyproject)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402
from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from app.extensions import limiter  # noqa: E402
from tests.accounts.helpers import make_user  # noqa: E402
from tests.api.helpers import bearer, seed_shopping, tokens  # noqa: E402
from tests.catalog import factories  # noqa: E402

MAX_EXAMPLES = 25
# Rules JSON Schema cannot express, so schema-valid requests may rightly be refused: password
# strength (zxcvbn with the email and name as context: 422) and opaque cursors, which are
# valid only when the API made them (400).
BUSINESS_RULES = {
    ("POST", "/api/v1/auth/register"),
    ("GET", "/api/v1/products"),
    # Profile (app.api.profile): phone numbers and postcodes valid for their country (the
    # website's rules: phonenumbers, postcode formats, a state for US/CA/AU), SMS choices that
    # need a phone on the profile, and the current password, which generated data never knows.
    ("PATCH", "/api/v1/me"),
    ("POST", "/api/v1/me/addresses"),
    ("PATCH", "/api/v1/me/addresses/{address_id}"),
    ("PUT", "/api/v1/me/preferences"),
    ("POST", "/api/v1/me/password"),
    ("DELETE", "/api/v1/me"),
    # Cart, checkout, orders: variants that are not for sale and the per-line quantity limit
    # (configuration), countries that are not ISO codes, address-book ids, opaque cursors.
    ("POST", "/api/v1/cart/items"),
    ("PATCH", "/api/v1/cart/items/{line_id}"),
    ("PUT", "/api/v1/checkout/details"),
    ("GET", "/api/v1/checkout/shipping-methods"),
    ("GET", "/api/v1/orders"),
    # Voucher codes: only the ones staff made are known (422 with why, like the website).
    ("PUT", "/api/v1/cart/code"),
    # Back in stock: only sold-out variants of the product can be waited for.
    ("POST", "/api/v1/products/{slug}/back-in-stock"),
    # Reviews: only buyers of the product may write one (403 for the rest).
    ("POST", "/api/v1/products/{slug}/reviews"),
    # Returns: delivered orders within the window, lines of that order only.
    ("POST", "/api/v1/orders/{number}/returns"),
    # Email confirmation: only tokens the shop signed confirm anything.
    ("POST", "/api/v1/auth/verify-email"),
    # Passkeys: only an answer the platform signed for the shop's own challenge is accepted;
    # saved cards: only the provider's ids of the account's own cards.
    ("POST", "/api/v1/me/passkeys"),
    ("POST", "/api/v1/auth/passkey"),
    ("DELETE", "/api/v1/me/cards/{card_id}"),
}


@pytest.fixture(autouse=True)
def _hypothesis_files_in_tmp(tmp_root):
    set_hypothesis_home_dir(tmp_root / "hypothesis")  # not .hypothesis/ in the checkout


@pytest.fixture
def api_schema(app, db):
    shirts = factories.category("Shirts")
    for i in range(3):
        factories.product(f"Shirt {i}", price=1000 + i, category=shirts)
    seed_shopping(make_user())
    db.session.flush()
    limiter.enabled = False  # hundreds of generated requests; limits are tested elsewhere
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        # NUL characters are refused at the edge with a 400 (app.core.security).
        schema.config.generation.update(allow_x00=False)
        yield schema
    finally:
        limiter.enabled = True


def operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


def exercise(operation, mode, headers, excluded) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        sent = headers
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            # The API declares no header parameters: a negative header case leaves out the
            # bearer token, and putting a valid one back would make the request valid.
            sent = {}
        # Each request in its own context, as in production (tests.conftest.IsolatedClient).
        contextvars.Context().run(case.call_and_validate, headers=sent, excluded_checks=excluded)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(app, api_schema, mode):
    ops = operations(api_schema)
    assert len(ops) >= 9
    for operation in ops:
        if mode is GenerationMode.NEGATIVE and not (len(operation.query) or len(operation.body)):
            continue  # nothing that could be made invalid (a slug is any string)
        headers = bearer(tokens(app.test_client())["access_token"])
        rule = (operation.method.upper(), operation.path)
        excluded = [positive_data_acceptance] if rule in BUSINESS_RULES else []
        exercise(operation, mode, headers, excluded)

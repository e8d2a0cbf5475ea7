"""The OpenAPI document and the reference page describe every operation."""

from __future__ import annotations

import re

from markupsafe import escape

from app.api.openapi import REGISTRY

# the description itself, and the first release's spelling of /api/v1
UNDOCUMENTED = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/"}


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_document_is_openapi_31_and_covers_every_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    documented = {
        (path, method.upper()) for path, methods in doc["paths"].items() for method in methods
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z_]+:)?(\w+)>", r"{\1}", rule.rule)
        if path in UNDOCUMENTED:
            continue
        routes.update((path, m) for m in rule.methods - {"HEAD", "OPTIONS"})
    assert routes == documented
    assert len(documented) == len(REGISTRY)


def test_every_reference_resolves(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in doc["components"][kind], ref


def test_operations_declare_auth_and_problems(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    me = doc["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginIn"
    }
    assert "application/problem+json" in login["responses"]["422"]["content"]
    params = {p["name"]: p for p in doc["paths"]["/api/v1/products"]["get"]["parameters"]}
    assert {
        "q",
        "category",
        "min_price",
        "max_price",
        "in_stock",
        "sort",
        "limit",
        "cursor",
    } <= set(params)
    assert params["limit"]["schema"]["maximum"] == 100
    detail = doc["paths"]["/api/v1/products/{slug}"]["get"]["parameters"][0]
    assert detail == {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}


def test_docs_page_lists_every_operation(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for op in REGISTRY:
        assert f"{op.method} {op.path}" in html
        assert str(escape(op.summary)) in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "LoginIn" in html and "limit" in html


def test_whole_api_has_a_default_rate_limit(client, db):
    statuses = [client.get("/api/v1/").status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429


def test_refresh_tells_clients_to_serialise_refreshes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    description = doc["paths"]["/api/v1/auth/refresh"]["post"]["description"]
    assert "must therefore serialise refreshes" in description
    assert "token-reused" in description


def test_cart_token_and_optional_bearer_are_declared(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, method in (
        ("/api/v1/cart", "get"),
        ("/api/v1/cart/items", "post"),
        ("/api/v1/cart/items/{line_id}", "patch"),
        ("/api/v1/checkout/details", "put"),
        ("/api/v1/checkout/summary", "get"),
        ("/api/v1/checkout/session", "post"),
        ("/api/v1/orders/{number}/status", "get"),
    ):
        spec = paths[path][method]
        headers = [p for p in spec["parameters"] if p["in"] == "header"]
        assert [(p["name"], p["required"]) for p in headers] == [("X-Cart-Token", False)], path
        assert spec["security"] == [{"bearerAuth": []}, {}], path
    assert "X-Cart-Token" in paths["/api/v1/cart"]["get"]["responses"]["200"]["headers"]
    login = paths["/api/v1/auth/login"]["post"]
    assert [p["name"] for p in login["parameters"]] == ["X-Cart-Token"]
    assert login["security"] == []  # public
    assert paths["/api/v1/orders"]["get"]["security"] == [{"bearerAuth": []}]


def test_quantities_declare_the_per_line_limit(client, make_app):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    add, change = schemas["AddItemIn"]["properties"], schemas["SetQuantityIn"]["properties"]
    assert (add["quantity"]["minimum"], add["quantity"]["maximum"]) == (1, 10)
    assert (change["quantity"]["minimum"], change["quantity"]["maximum"]) == (0, 10)
    other = make_app(CART_MAX_QUANTITY=4).test_client()
    schemas = other.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["AddItemIn"]["properties"]["quantity"]["maximum"] == 4

"""The API's description: ``/api/v1/openapi.json`` and a server-rendered reference page."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, render_template

from app.api import bp
from app.api.openapi import STATUS_TEXT, build_openapi, operation
from app.api.schemas import ApiInfo

TITLE = "ShopSphere API"
VERSION = "v1"


def openapi_document() -> dict[str, Any]:
    """Built once; its `servers` entry is the shop's public address (SHOP_BASE_URL), never
    the Host header a client sent."""
    server = current_app.config["SHOP_BASE_URL"]
    cache = current_app.extensions.setdefault("api_openapi", {})
    if cache.get("server") != server:
        cache.update(server=server, doc=build_openapi(TITLE, VERSION, server))
    return cache["doc"]


@operation(bp, "GET", "", summary="API name and version", responses={200: ApiInfo}, tags=["meta"])
def index() -> ApiInfo:
    return ApiInfo(name=TITLE, version=VERSION)


# `/api/v1/` (the first release's spelling) still answers, outside the document.
bp.add_url_rule("/", "index_slash", index, methods=["GET"])


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


def _schema_name(content: dict[str, Any] | None) -> str | None:
    if not content:
        return None
    schema = next(iter(content.values()))["schema"]
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


@bp.get("/docs")
def docs_page() -> str:
    doc = openapi_document()
    operations = []
    for path, methods in doc["paths"].items():
        for method, spec in methods.items():
            body = spec.get("requestBody", {}).get("content")
            operations.append(
                {
                    "id": spec["operationId"].replace(".", "-"),
                    "method": method.upper(),
                    "path": path,
                    "summary": spec.get("summary", ""),
                    "description": spec.get("description", ""),
                    "auth": bool(spec.get("security")) and {} not in spec["security"],
                    "parameters": spec.get("parameters", []),
                    "body": _schema_name(body),
                    "responses": [
                        (
                            status,
                            r.get("description") or STATUS_TEXT.get(int(status), ""),
                            _schema_name(r.get("content")),
                        )
                        for status, r in spec["responses"].items()
                    ],
                }
            )
    return render_template("api/docs.html", doc=doc, operations=operations)

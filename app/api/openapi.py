"""A small operation registry: pydantic models validate requests, serialize responses and
describe both in the OpenAPI 3.1 document, so there is one source for all three.

    @operation(bp, "POST", "/auth/login", summary="Sign in", body=LoginIn,
               responses={200: TokenOut, 401: Problem}, tags=["auth"])
    def login(body: LoginIn) -> TokenOut: ...

* ``body`` is validated from a JSON object, ``query`` from the query string; the view
  receives them as ``body=``/``query=``. Bad JSON is a 400 problem, a failed validation a
  422 problem with ``errors: {field: [messages]}``.
* The view returns a model (sent with the first 2xx status in ``responses``), a
  ``(model, status)`` tuple, or a ready ``Response`` (problems, 204s).
* ``auth=True`` requires ``Authorization: Bearer <access token>`` (see :mod:`app.api.auth`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app.api.schemas import Problem
from app.core.errors import problem
from app.core.numbers import MAX_ID
from app.core.shop_errors import ShopError

REF_TEMPLATE = "#/components/schemas/{model}"
API_PREFIX = "/api/v1"
_PATH_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
# Integer ids are 32-bit columns: larger path ids are a 404 (app.core.numbers.IdConverter).
_CONVERTER_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "path": {"type": "string"},
}

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    304: "Not modified",
    400: "Bad request",
    401: "Not authenticated",
    404: "Not found",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    503: "Service unavailable",
}
JSON_TYPES = ("application/json",)  # and any application/*+json

# Headers every response may carry (app.api.limits), declared once and referenced.
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {
        "description": "Requests allowed in the window of the quota closest to running out.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in that window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until that window starts again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Policy": {
        "description": "Every quota that applies, as `limit;w=seconds`, comma-separated.",
        "schema": {"type": "string"},
    },
}
COMPONENT_HEADERS: dict[str, dict[str, Any]] = {
    **RATE_LIMIT_HEADERS,
    "Retry-After": {
        "description": "Seconds to wait before trying again (only on 429 and 503).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "ETag": {
        "description": "Validator of this representation; send it back as If-None-Match.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": (
            'The challenge: `Bearer` when no token was sent, `Bearer error="invalid_token"` '
            "when the access token was refused, `Bearer realm=...` when sign-in details "
            "were wrong."
        ),
        "schema": {"type": "string"},
    },
}
IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of a copy you hold: 304 with no body while it is still current.",
    "schema": {"type": "string"},
}


@dataclass
class Operation:
    method: str
    rule: str  # Flask rule, relative to the blueprint
    endpoint: str
    summary: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    auth: bool = False
    tags: list[str] = field(default_factory=list)
    cart_token: bool = False  # reads the guest's X-Cart-Token header
    optional_auth: bool = False  # a bearer token, when sent, makes it the user's

    @property
    def conditional(self) -> bool:
        """Answers If-None-Match with 304 (it lists a 304 response)."""
        return 304 in self.responses

    @property
    def path(self) -> str:
        return API_PREFIX + _PATH_PARAM.sub(r"{\1}", self.rule)

    @property
    def operation_id(self) -> str:
        return self.endpoint

    def path_params(self) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for match in re.finditer(r"<(?:([a-z_]+):)?([a-zA-Z_][a-zA-Z0-9_]*)>", self.rule):
            converter, name = match.group(1) or "string", match.group(2)
            out.append((name, _CONVERTER_TYPES.get(converter, {"type": "string"})))
        return out

    @property
    def success_status(self) -> int:
        return min((s for s in self.responses if 200 <= s < 300), default=200)


REGISTRY: list[Operation] = []

CART_TOKEN_PARAMETER: dict[str, Any] = {
    "name": "X-Cart-Token",
    "in": "header",
    "required": False,
    "description": (
        "A guest's cart token, from `cart_token` (or this response header) of an earlier cart "
        "response (16 to 64 characters of A-Z, a-z, 0-9, - and _). Ignored when an "
        "Authorization header is sent; any other value, or an unknown or expired token, is "
        "no cart."
    ),
    "schema": {"type": "string"},
}
CART_TOKEN_RESPONSE_HEADER: dict[str, Any] = {
    "description": "The guest's cart token (guest carts only); send it back as X-Cart-Token.",
    "schema": {"type": "string"},
}


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        name = ".".join(str(part) for part in err["loc"]) or "body"
        errors.setdefault(name, []).append(err["msg"])
    return errors


def validation_problem(errors: dict[str, list[str]], detail: str | None = None) -> Response:
    return problem(
        422,
        detail or "Some fields are missing or not valid; see errors.",
        code="validation-failed",
        errors=errors,
    )


def shop_problem(exc: ShopError, *, field: str | None = None) -> Response:
    """A service's refusal as problem+json: a field error (422) when an input is to blame,
    else the error's status with its code."""
    blamed = field or exc.field
    if blamed:
        return problem(422, str(exc), code="validation-failed", errors={blamed: [str(exc)]})
    return problem(exc.status, str(exc), code=exc.code)


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _dump(model: BaseModel, status: int) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def operation(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    summary: str,
    description: str = "",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | None] | None = None,
    auth: bool = False,
    tags: list[str] | None = None,
    cart_token: bool = False,
    optional_auth: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(
            method=method.upper(),
            rule=rule,
            endpoint=f"{bp.name}.{view.__name__}",
            summary=summary,
            description=description or (view.__doc__ or "").strip(),
            body=body,
            query=query,
            responses=dict(responses or {200: None}),
            auth=auth,
            tags=list(tags or []),
            cart_token=cart_token,
            optional_auth=optional_auth,
        )
        REGISTRY.append(op)

        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            if auth:
                from app.api.auth import authenticate_request

                failure = authenticate_request()
                if failure is not None:
                    return failure
            if query is not None:
                try:
                    kwargs["query"] = query.model_validate(request.args.to_dict())
                except ValidationError as exc:
                    return validation_problem(field_errors(exc))
            if body is not None:
                if request.mimetype and not _is_json(request.mimetype):
                    return problem(
                        415,
                        "Send the body as JSON with Content-Type: application/json.",
                        code="unsupported-media-type",
                    )
                try:
                    data = request.get_json(silent=True)
                except RecursionError:  # nested deeper than the parser goes: not a 500
                    data = None
                if not isinstance(data, dict):
                    return problem(
                        400,
                        "Send a JSON object with Content-Type: application/json.",
                        code="invalid-json",
                    )
                try:
                    kwargs["body"] = body.model_validate(data)
                except ValidationError as exc:
                    return validation_problem(field_errors(exc))
            rv = view(**kwargs)
            if isinstance(rv, BaseModel):
                return _dump(rv, op.success_status)
            if isinstance(rv, tuple) and rv and isinstance(rv[0], BaseModel):
                return _dump(rv[0], rv[1])
            return rv

        bp.add_url_rule(rule, view.__name__, wrapper, methods=[op.method])
        return wrapper

    return decorator


# -- the OpenAPI document -----------------------------------------------------------------------


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _json_content(ref: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": ref}}


def build_openapi(title: str, version: str, server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered operation, served from ``server_url``."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for op in REGISTRY:
        if op.body is not None:
            models.append((op.body, "validation"))
        models.extend((m, "serialization") for m in op.responses.values() if m is not None)
    models = list(dict.fromkeys(models))
    refs, defs = models_json_schema(models, ref_template=REF_TEMPLATE)
    problem_ref = refs[(Problem, "serialization")]

    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(REGISTRY, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation_spec(op, refs, problem_ref)

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The JSON API of the shop for its mobile app: catalog, cart, checkout through "
                "Stripe Checkout, orders, returns, reviews, wishlist and the account. Errors "
                "are RFC 9457 problems whose `code` names the rule that refused."
            ),
            "license": {"name": "Proprietary", "identifier": "LicenseRef-ShopSphere"},
        },
        "servers": [{"url": server_url, "description": "This shop"}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "headers": COMPONENT_HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Access token from POST /api/v1/auth/login (15 minutes).",
                }
            },
        },
    }


def _operation_spec(op: Operation, refs: dict[Any, Any], problem_ref: Any) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in op.path_params()
    ]
    if op.query is not None:
        parameters.extend(_query_parameters(op.query))
    if op.cart_token:
        parameters.append(CART_TOKEN_PARAMETER)
    if op.conditional:
        parameters.append(IF_NONE_MATCH_PARAMETER)
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "responses": _responses(op, refs, problem_ref),
    }
    if op.description:
        spec["description"] = op.description
    if op.tags:
        spec["tags"] = op.tags
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": _json_content(refs[(op.body, "validation")]),
        }
    if op.auth:
        spec["security"] = [{"bearerAuth": []}]
    elif op.optional_auth:
        spec["security"] = [{"bearerAuth": []}, {}]  # the bearer when sent, else a guest
    else:
        spec["security"] = []  # public: no token needed (one sent is not read)
    return spec


def _responses(op: Operation, refs: dict[Any, Any], problem_ref: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": STATUS_TEXT.get(status, "Response")}
        if model is not None:
            media = "application/problem+json" if model is Problem else "application/json"
            entry["content"] = _json_content(refs[(model, "serialization")], media)
            if op.cart_token and model.__name__ == "CartOut":
                entry["headers"] = {"X-Cart-Token": CART_TOKEN_RESPONSE_HEADER}
        responses[str(status)] = entry
    extra = {422: "Validation failed", 429: "Too many requests"}
    if op.body is not None:
        extra[400] = "Malformed JSON"
        extra[415] = "The body is not JSON (send Content-Type: application/json)"
    if op.auth:
        extra[401] = "Missing, expired or revoked access token"
    for status, text in extra.items():
        if str(status) not in responses and (status != 422 or op.body or op.query):
            responses[str(status)] = {
                "description": text,
                "content": _json_content(problem_ref, "application/problem+json"),
            }
    for code, entry in responses.items():
        _declare_headers(op, int(code), entry)
    return dict(sorted(responses.items()))


def _declare_headers(op: Operation, status: int, entry: dict[str, Any]) -> None:
    """The headers a response of this status carries, by reference (components.headers)."""
    headers = entry.setdefault("headers", {})
    if status != 304:  # a 304 repeats only the validators (RFC 9110 §15.4.5)
        headers.update({name: _header_ref(name) for name in RATE_LIMIT_HEADERS})
    if status in (429, 503):
        headers["Retry-After"] = _header_ref("Retry-After")
    if op.conditional and status in (200, 304):
        headers["ETag"] = _header_ref("ETag")
    if status == 401:
        headers["WWW-Authenticate"] = _header_ref("WWW-Authenticate")

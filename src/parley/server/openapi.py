"""The OpenAPI document tells the truth about errors and credentials.

Every error leaves the API as `{"error": {"code", "message"}}` (server/errors.py), so every
documented 4xx uses that schema, never FastAPI's `{detail: [...]}`. Statuses any operation
can answer are added to each operation by its shape, so a new route cannot forget them:
- 400 `invalid_json` / `bad_request`: a malformed or too-deep JSON body, NUL in the URL;
- 401 when the operation takes a credential;
- 404 when its path names an object;
- 413 and 422 when it takes a body or parameters.
Anything else a route raises (409, 429, 503, …) it declares itself with `errors(...)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

DESCRIPTIONS = {
    400: "Bad request: the body is not valid JSON (or nested too deep), or the URL holds NUL",
    401: "Unauthorized: the credential is missing or not a valid API key",
    403: "Forbidden",
    404: "Not found: no such object in this account",
    409: "Conflict with the object's current state",
    413: "The request body is over the configured limit",
    415: "Unsupported media type",
    422: "Invalid request: the message names the offending field",
    429: "Too many: an account limit is reached (see Retry-After)",
    503: "Every Parley process is full or shutting down (see Retry-After)",
}
_EXAMPLES = {
    400: ("invalid_json", "request body is not valid JSON: Expecting value"),
    401: ("unauthorized", "missing API key: send 'Authorization: Bearer <key>'"),
    403: ("forbidden", "not allowed"),
    404: ("not_found", "no agent 'agt_0123456789abcdef'"),
    409: ("conflict", "the object is in use"),
    413: ("payload_too_large", "request body exceeds 1048576 bytes"),
    415: ("unsupported_media_type", "the file is not a supported document"),
    422: ("invalid_request", "body.name: Field required"),
    429: ("too_many_sessions", "this account already has 10 live sessions"),
    503: ("server_busy", "every Parley process is full: the event loop is behind"),
}


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What was wrong, for a person; names the field.")


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these statuses beyond the automatic ones."""
    return {status: _response(status) for status in statuses}


def _response(status: int) -> dict[str, Any]:
    code, message = _EXAMPLES.get(status, ("error", "what went wrong"))
    return {
        "model": ErrorBody,
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"example": {"error": {"code": code, "message": message}}}},
    }


def install(app: FastAPI) -> None:
    """Build the app's document once, with the error statuses every operation can answer."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    _add_errors(path, operation)
            _drop_fastapi_validation(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_errors(path: str, operation: dict[str, Any]) -> None:
    statuses = [400]
    if operation.get("security"):
        statuses.append(401)
    if "{" in path:
        statuses.append(404)
    if "requestBody" in operation:
        statuses.append(413)
    if "requestBody" in operation or operation.get("parameters"):
        statuses.append(422)
    responses = operation.setdefault("responses", {})
    for status in statuses:
        key = str(status)
        if key == "422" or key not in responses:
            responses[key] = _documented(status)
    for key, response in responses.items():
        if key.startswith(("4", "5")) and "content" not in response:
            response.update(_documented(int(key)))


def _documented(status: int) -> dict[str, Any]:
    code, message = _EXAMPLES.get(status, ("error", "what went wrong"))
    return {
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "example": {"error": {"code": code, "message": message}},
            }
        },
    }


def _drop_fastapi_validation(schema: dict[str, Any]) -> None:
    """FastAPI's `{detail: [...]}` shapes are never answered; make sure ours are present."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components["ErrorDetail"] = ErrorDetail.model_json_schema()
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body.pop("$defs", None)
    components["ErrorBody"] = body

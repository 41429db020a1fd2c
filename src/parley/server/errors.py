"""Every error leaves the API as `{"error": {"code", "message"}}` with a 4xx/5xx status.

Bad input is a 4xx with a message that names the offending field; only a bug is a 500, and
its details stay in the log, not in the response. A 500 is answered like any other response
(`InternalErrors`), so the client's keep-alive connection survives it: Starlette's own
last-resort handler re-raises after answering, and the server then drops the connection.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.validation import describe_errors, json_too_deep

log = logging.getLogger("parley.server")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by route handlers for any client-visible failure."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no {kind} {object_id!r}")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    return error_response(exc.status, exc.code, exc.message, {**headers, **exc.headers} or None)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "malformed JSON")
        return error_response(400, "invalid_json", f"request body is not valid JSON: {reason}")
    return error_response(422, "invalid_request", describe_errors(errors))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, dict(exc.headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class InternalErrors:
    """An unhandled exception becomes a logged JSON 500 that is not re-raised (unless the
    response had already started, when nothing else can be done)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = error_response(500, "internal_error", "internal server error")
            await response(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body exceeds {max_bytes} bytes")


class BodyGuard:
    """Refuse request bodies over `max_bytes` with a JSON 413 before they are buffered, and
    JSON bodies nested deeper than `max_json_depth` with a JSON 400 before they are parsed.

    A declared `Content-Length` over the limit is refused at once; a streamed body is counted
    as it arrives and cut off at the limit by raising an HTTP 413 out of `receive`, which
    FastAPI passes to the handlers above. (FastAPI's own `max_body_size` answers in plain
    text, which would break the error contract.) A JSON body is read whole (it is bounded)
    and checked, then handed on unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_json_depth: int,
        uploads: dict[str, int] | None = None,
    ) -> None:
        """`uploads`: paths that take larger bodies (file uploads), with their limits."""
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth
        self.uploads = uploads or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self.uploads.get(scope.get("path", ""), self.max_bytes)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(
                413, "payload_too_large", f"request body exceeds {limit} bytes"
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
            return message

        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, counted, send)
            return
        try:
            body = await _read_body(counted)
        except BodyTooLarge:
            response = error_response(
                413, "payload_too_large", f"request body exceeds {limit} bytes"
            )
            await response(scope, receive, send)
            return
        if json_too_deep(body, self.max_json_depth):
            message = (
                f"request body is not acceptable JSON: nested deeper than {self.max_json_depth}"
            )
            await error_response(400, "invalid_json", message)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # then whatever follows (a disconnect)

    return replayed

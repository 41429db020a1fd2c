"""`GET /asyncapi.json`: the native dialect's AsyncAPI 3.0.0 document (server/asyncapi.py).

Public, like `/openapi.json`: it describes the protocol, not any account's data. Its server
is the address callers reach: `PARLEY_PUBLIC_URL` when set, else the one the request came in
on (as the `websocket_url`s handed out are built).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from parley.server.asyncapi import native_document
from parley.server.deps import ServicesDep

router = APIRouter(tags=["docs"])


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_document(request: Request, found: ServicesDep) -> JSONResponse:
    base = urlsplit(found.settings.public_url or str(request.base_url))
    secure = base.scheme in ("https", "wss")
    return JSONResponse(native_document(base.netloc, secure=secure, pathname=base.path.rstrip("/")))

"""Every route and socket asks for credentials, except the few that are public by design.
New routes are found by walking the app, so one added without auth fails here."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley.server.runner import serve_app


async def refusal(url: str) -> str:
    """How a socket refuses: an HTTP status, or its close code with the error it sent."""
    try:
        async with connect(url) as ws:
            reply = json.loads(await ws.recv())
            await ws.wait_closed()
            return f"{ws.close_code} {reply['payload']['code']}"
    except InvalidStatus as refused:
        return f"HTTP {refused.response.status_code}"
    except ConnectionClosed:
        return "closed without saying why"


PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/docs/redoc.js",  # the docs pages' assets (the rest are a static mount, not routes)
    "/asyncapi.json",
    "/playground",  # the browser client: it holds no data, its API calls carry the key
    "/playground/{name}",
}


# Routes Twilio calls: their credential is Twilio's signature of the request, not a key.
SIGNED_BY_TWILIO = {"/telephony/twilio/voice"}


def every_route(routes: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(full path, route) for every route, through included routers."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += every_route(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            found.append((prefix + route.path, route))
    return found


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for path, route in every_route(app.routes):
        if isinstance(route, APIRoute) and path not in PUBLIC | SIGNED_BY_TWILIO:
            concrete = re.sub(r"\{[^}]+\}", "x_123", path)
            found.extend((method, concrete) for method in sorted(route.methods))
    return found


async def test_every_rest_route_refuses_a_missing_or_wrong_key(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    routes = http_routes(app)
    assert len(routes) >= 10  # the walk found the API
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer pk_not_a_key"}, {"Authorization": "x"}):
            answer = await anonymous.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.json()["error"]["code"] == "unauthorized"


async def test_twilios_webhook_refuses_a_request_it_did_not_sign(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    for path in SIGNED_BY_TWILIO:
        for headers in ({}, {"X-Twilio-Signature": "bm90IHNpZ25lZA=="}):
            answer = await anonymous.post(path, headers=headers, data={"To": "+15550001111"})
            assert answer.status_code == 403, (path, headers, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"


async def test_every_socket_refuses_a_missing_or_wrong_credential(app: FastAPI) -> None:
    sockets = [p for p, r in every_route(app.routes) if isinstance(r, APIWebSocketRoute)]
    assert set(sockets) >= {"/ws/voice", "/v1/agent/converse", "/agent"}
    async with serve_app(app) as base:
        for path in sockets:
            for query in ("", "?token=pk_not_a_key", "?token=st_not_a_token"):
                url = base.replace("http://", "ws://") + path + query
                assert await refusal(url) in ("4401 unauthorized", "HTTP 401"), (path, query)

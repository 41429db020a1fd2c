"""A local HTTP API for server-side tools: echoes calls, redirects, fails or stalls."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


class ToolServer:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.redirect_to = "http://10.255.255.1/internal"
        self.answer_headers: dict[str, str] = {}  # what /orders answers with besides its body
        self.app = Starlette(
            routes=[
                Route("/weather", self._weather, methods=["GET", "POST"]),
                Route("/fail", self._fail, methods=["POST"]),
                Route("/slow", self._slow, methods=["POST"]),
                Route("/redirect", self._redirect, methods=["GET", "POST"]),
                Route("/orders/{order_id}", self._order, methods=["GET", "POST"]),
            ]
        )

    async def _weather(self, request: Request) -> Response:
        body = await request.json() if request.method == "POST" else None
        self.calls.append(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "body": body,
                "host": request.headers.get("host"),
                "auth": request.headers.get("x-key"),
            }
        )
        city = (body or {}).get("city") or request.query_params.get("city", "?")
        return JSONResponse({"forecast": f"sunny in {city}"})

    async def _order(self, request: Request) -> Response:
        """Echoes where each part of the request arrived (path, query, headers, body)."""
        body = await request.json() if await request.body() else None
        seen = {
            "path": request.path_params["order_id"],
            "query": dict(request.query_params),
            "body": body,
            "headers": {k: v for k, v in request.headers.items() if k.startswith("x-")},
        }
        self.calls.append(seen)
        return JSONResponse({"status": "shipped"}, headers=self.answer_headers)

    async def _fail(self, request: Request) -> Response:
        return JSONResponse({"error": "backend down"}, status_code=503)

    async def _slow(self, request: Request) -> Response:
        await asyncio.sleep(3)
        return JSONResponse({})

    async def _redirect(self, request: Request) -> Response:
        return RedirectResponse(self.redirect_to, status_code=302)

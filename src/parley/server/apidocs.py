"""`/docs` (Swagger UI) and `/redoc`, served from assets inside an installed package.

FastAPI's own pages load their scripts from a CDN and are blank on an offline or firewalled
host. `fastapi-offline` vendors Swagger UI and ReDoc; only its static files are used here,
mounted under `/docs/assets`. ReDoc's Google fonts are off for the same reason, and its
bundle is served with the one address it would still fetch (Redocly's logo, from their
CDN) pointed at the local favicon: an offline page makes no request off the host. Swagger UI
keeps the key entered under Authorize for the browser tab (`persistAuthorization`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/docs/assets"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle() -> bytes:
    return (
        (ASSETS / "redoc.standalone.js")
        .read_bytes()
        .replace(REDOC_LOGO.encode(), f"{PREFIX}/favicon.png".encode())
    )


def install(app: FastAPI) -> None:
    """Add the two pages and their assets; the app must be built with `docs_url=None`."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{root}{PREFIX}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True},
        )

    @app.get("/docs/redoc.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(
            _redoc_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{root}/docs/redoc.js",
            redoc_favicon_url=f"{root}{PREFIX}/favicon.png",
            with_google_fonts=False,
        )

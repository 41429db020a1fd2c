"""`/playground`: a browser client for Parley, served by Parley itself (docs/playground.md).

Plain HTML, CSS and JavaScript modules from `server/playground/`, shipped in the package:
no build step, no CDN, so it works on an offline host. The page holds no data and needs no
credential; every API call it makes carries the key the user typed, kept in the tab's
`sessionStorage`. A strict Content-Security-Policy keeps everything on this host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from parley.server.errors import not_found

ASSETS = Path(__file__).resolve().parent.parent / "playground"
POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # the page asks for the microphone and nothing else
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    # always the installed version's files: a stale cached module would mix versions
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

router = APIRouter(include_in_schema=False)


@router.get("/playground")
async def playground_page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type=TYPES[".html"], headers=HEADERS)


@router.get("/playground/{name}")
async def playground_asset(name: str) -> FileResponse:
    """One of the page's files; the folder is flat, so a name is never a path."""
    path = ASSETS / name
    kind = TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise not_found("playground file", name)
    return FileResponse(path, media_type=kind, headers=HEADERS)

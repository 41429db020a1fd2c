"""The `ws(s)://` URLs handed to clients.

With `PARLEY_PUBLIC_URL` set (the address callers reach, e.g. behind a proxy), URLs are built
on it; otherwise on the address the request came in on, so a local server just works.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def websocket_url(request: Request, public_url: str | None, path: str, **query: str) -> str:
    base = public_url or str(request.base_url)
    scheme, _, rest = base.partition("://")
    return f"{_WS_SCHEMES[scheme]}://{rest.rstrip('/')}{path}?{urlencode(query)}"

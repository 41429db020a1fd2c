"""Run a real Parley server inside the current event loop, on a real port.

Used by `parley demo` and the end-to-end tests: the server they talk to is
the production uvicorn stack on a loopback socket, not an in-memory shortcut.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from parley.config import Settings
from parley.server import logformat
from parley.server.app import create_app
from parley.server.frame_tap import TappedProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The WebSocket options every Parley server runs with (`parley serve` and in-process).

    uvicorn's frame limit is set well above `PARLEY_MAX_FRAME_BYTES`, so an oversized frame
    reaches the dialect and gets its clear error instead of a dropped connection; per-message
    deflate is off because audio does not compress and deflating it only costs CPU; the
    WebSocket protocol is uvicorn's sans-I/O one with caller audio taken in place
    (server/frame_tap.py).
    """
    return {
        "ws": TappedProtocol,
        "ws_max_size": max(16 << 20, settings.max_frame_bytes * 2),
        "ws_per_message_deflate": False,
    }


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[str]:
    """Serve any ASGI app (Parley, or a test's fake provider) until the block exits; yields
    its base URL. `options` go to uvicorn (16 MiB frames and no deflate unless they say)."""
    options = {"ws_max_size": 16 << 20, "ws_per_message_deflate": False, **options}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto", **options))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="parley-server")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@contextlib.asynccontextmanager
async def serving(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve Parley until the block exits; yields the base URL (`http://127.0.0.1:<port>`)."""
    app = create_app(settings)
    options = uvicorn_options(settings)
    if settings.log_format == "json":  # asked for: the whole program's log is JSON
        options["log_config"] = logformat.join_root(settings)
    async with serve_app(app, host, port, **options) as base_url:
        yield base_url

"""Run a real Parley server inside the current event loop, on a real port.

Used by `parley demo`, the benchmark and the end-to-end tests: the server they talk to is
the production uvicorn stack on a loopback socket, not an in-memory shortcut.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from parley.config import Settings
from parley.server.app import create_app


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, ws_max_size: int = 16 << 20
) -> AsyncIterator[str]:
    """Serve any ASGI app until the block exits; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            ws_max_size=ws_max_size,
            ws_per_message_deflate=False,
            lifespan="auto",
        )
    )
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
    ws_max_size = max(16 << 20, settings.max_frame_bytes * 2)
    async with serve_app(create_app(settings), host, port, ws_max_size) as base_url:
        yield base_url

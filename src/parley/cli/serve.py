"""`parley serve`: run the HTTP/WebSocket server with uvicorn, in one or several processes.

With `--workers N`, the parent migrates the database and registers the configured keys
once, then uvicorn forks N workers that share the listening socket. Each worker runs its
own conversations; anything created over REST is in the shared database, so a session
made through one worker can be joined through any other, and an agent deleted through one
ends its live sessions everywhere (each worker checks its live sessions against the
store). Prometheus numbers from every worker are aggregated at `/metrics`. With the Silero
VAD (the default) the parent also starts the one VAD worker every worker shares.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import tempfile
from typing import Any

import uvicorn

from parley.config import Settings
from parley.providers.vad.silero import HOST_SOCKET_ENV, SileroHost
from parley.server import logformat
from parley.server.app import create_app
from parley.server.runner import uvicorn_options
from parley.store import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the server")
    parser.add_argument("--host", help="address to bind (default PARLEY_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default PARLEY_PORT or 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes to run (default 1; use one per core)"
    )
    parser.set_defaults(handler=handle)


async def _prepare(settings: Settings) -> None:
    store = await Store.for_settings(settings)
    try:
        await store.accounts.bootstrap_keys(settings.api_keys)
    finally:
        await store.close()


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        # every worker applies it in place of uvicorn's own: one redacted format for all
        "log_config": logformat.configure(settings),
        **uvicorn_options(settings),
        "proxy_headers": True,
    }
    if args.workers <= 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    asyncio.run(_prepare(settings))
    metrics_dir = tempfile.mkdtemp(prefix="parley-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    vad_host = _shared_vad(settings, metrics_dir)
    try:
        uvicorn.run("parley.server.app:create_app", factory=True, workers=args.workers, **common)
    finally:
        if vad_host is not None:
            vad_host.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _shared_vad(settings: Settings, directory: str) -> SileroHost | None:
    """One Silero worker for all the workers (they find it through the environment they
    inherit); without it each would run its own, with half-size batches."""
    if settings.vad != "silero":
        return None
    host = SileroHost(directory)
    try:
        host.wait_ready()
    except RuntimeError as exc:
        logging.getLogger("parley.vad").warning("%s; each worker starts its own", exc)
        return None
    os.environ[HOST_SOCKET_ENV] = host.path
    return host

"""`parley serve`: run the HTTP/WebSocket server with uvicorn."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from parley.config import Settings
from parley.server.app import create_app


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the server")
    parser.add_argument("--host", help="address to bind (default PARLEY_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default PARLEY_PORT or 8000)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = Settings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level,
        ws_max_size=max(16 << 20, settings.max_frame_bytes * 2),
        proxy_headers=True,
    )
    return 0

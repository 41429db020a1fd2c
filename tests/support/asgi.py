"""Serve any ASGI app (a fake provider) on a loopback port for the duration of a test."""

from __future__ import annotations

from parley.server.runner import serve_app as run_asgi

__all__ = ["run_asgi"]

"""Parley: a self-hosted, real-time voice agent server."""

from __future__ import annotations

__version__ = "0.1.0"

"""Parley's Python SDK: the REST API and voice sessions from any Python program.

It talks to a server over HTTP only and never imports server internals, so it works
against any Parley deployment.
"""

from __future__ import annotations

from parley.client.rest import ParleyClient, ParleyError
from parley.client.voice import VoiceClient, VoiceError

__all__ = ["ParleyClient", "ParleyError", "VoiceClient", "VoiceError"]

"""The native dialect (`/ws/voice`) as an AsyncAPI 3.0.0 document, served at `/asyncapi.json`.

The messages live in `asyncapi_native.json` beside this module: every type the dialect reads
(`dialects/native/messages.py`, `parse`) and writes (`render`, and the session's `started`
and `error`), each with a summary, a JSON Schema for its `payload` and an example payload,
and every `error` code with its meaning. This module adds what the code already knows: the
`start` payload's schema (its pydantic model's, `$defs` moved to `components.schemas` so the
references resolve inside the document), the enums and limits the parsers and events
define, the binary audio frames both ways, and the `token` query credential.

The document describes the server: `receive` operations are what a client sends, `send`
operations what the server sends. docs/protocols/native.md is the same protocol in prose;
tests/api/test_asyncapi.py validates the document against the official AsyncAPI 3.0.0 schema
and checks that it names every message type and error code the code can produce.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any, get_args

from parley import __version__
from parley.audio.formats import G711_RATES, PCM_RATES
from parley.dialects.limits import Limits
from parley.dialects.native.messages import MAX_ID, MAX_PLAYED_MS
from parley.dialects.native.start import StartPayload
from parley.engine.events import EndReason, ToolStatus

Schema = dict[str, Any]
CHANNEL = "voice"
TOKEN = (
    "An API key (`pk_…`), or a session token (`st_…`) from `POST /v1/voice` or "
    "`POST /v1/agents/{agent_id}/sessions` (the `url` / `websocket_url` they answer with)."
)
BINARY = (
    "A binary WebSocket frame of raw mono audio: little-endian 16-bit PCM for `linear16`, "
    "8-bit G.711 for `mulaw` and `alaw`"
)


@functools.cache
def _messages() -> dict[str, Any]:
    """The data file, with the values the code defines filled in."""
    text = resources.files("parley.server").joinpath("asyncapi_native.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    client = {m["type"]: m["payload"].get("properties", {}) for m in data["client"]}
    server = {m["type"]: m["payload"].get("properties", {}) for m in data["server"]}
    client["text"]["text"]["maxLength"] = Limits().max_text_chars  # PARLEY_MAX_TEXT_CHARS
    client["tool_result"]["id"]["maxLength"] = MAX_ID
    client["played"]["ms"]["maximum"] = MAX_PLAYED_MS
    server["tool_call"]["status"]["enum"] = list(get_args(ToolStatus))
    server["ended"]["reason"]["enum"] = list(get_args(EndReason))
    return data


def _json_message(message: dict[str, Any], from_client: bool) -> Schema:
    kind = message["type"]
    description = message.get("description", message["summary"])
    if kind == "error" and not from_client:
        codes = _messages()["error_codes"].items()
        description += "\n\nCodes:\n\n" + "\n".join(f"- `{c}`: {m}" for c, m in codes)
    frame = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "const": kind},
            "payload": message["payload"],
        },
        # A client may leave out an empty payload; the server always sends one.
        "required": ["type"] if from_client else ["type", "payload"],
    }
    return {
        "name": kind,
        "title": f"{kind} ({'client → server' if from_client else 'server → client'})",
        "summary": message["summary"],
        "description": description,
        "contentType": "application/json",
        "payload": frame,
        "examples": [{"name": kind, "payload": {"type": kind, "payload": message["example"]}}],
    }


def _binary_message(from_client: bool) -> Schema:
    if from_client:
        summary = "Caller audio as a binary frame: the same as an `audio` message."
        detail = "in `audio.input`'s format (default linear16 at 16 kHz)"
    else:
        summary = "Agent audio as binary frames, when `start` said `binary_audio: true`."
        detail = "in `audio.output`'s format (default linear16 at 24 kHz), instead of `audio`"
    return {
        "name": "audio (binary)",
        "title": f"binary audio ({'client → server' if from_client else 'server → client'})",
        "summary": summary,
        "description": f"{BINARY}, {detail}.",
        "contentType": "application/octet-stream",
        "payload": {"type": "string", "format": "binary"},
    }


def _start_schemas() -> dict[str, Schema]:
    """`StartPayload`'s schema and its parts, their references pointing at components."""
    schema = StartPayload.model_json_schema(ref_template="#/components/schemas/{model}")
    parts: dict[str, Schema] = schema.pop("$defs", {})
    schema["description"] = "Every field is optional; unknown fields are ignored."
    rates = ", ".join(map(str, PCM_RATES)), ", ".join(map(str, G711_RATES))
    parts["AudioSpec"]["properties"]["sample_rate"]["description"] = (
        f"Hz: linear16 at {rates[0]}; mulaw and alaw at {rates[1]}"
    )
    return {"StartPayload": schema, **parts}


def native_document(
    host: str = "localhost:8000", *, secure: bool = False, pathname: str = ""
) -> dict[str, Any]:
    """The document, its server at `host` (`wss` when `secure`) under `pathname`."""
    data = copy.deepcopy(_messages())
    messages: dict[str, Schema] = {}
    for from_client in (True, False):
        side = "client" if from_client else "server"
        for message in data[side]:
            messages[f"{side}.{message['type']}"] = _json_message(message, from_client)
        messages[f"{side}.audio.binary"] = _binary_message(from_client)
    operations = {
        key: {
            "action": "receive" if key.startswith("client.") else "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"}],
            "summary": message["summary"],
        }
        for key, message in messages.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parley native voice sessions",
            "version": __version__,
            "description": (
                "Parley's own voice-session WebSocket, `/ws/voice`. One socket is one session: "
                "the client sends `start`, then audio, and the server answers with `started`, "
                "`ready`, transcripts and the agent's audio until `ended`. Text frames are JSON "
                '`{"type": str, "payload": object}`; binary frames are raw audio. This document '
                "describes the server: `receive` operations are what a client sends, `send` "
                "operations what the server sends. docs/protocols/native.md in Parley's "
                "repository is the same protocol in prose."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "parley": {
                "host": host,
                "pathname": pathname or "/",
                "protocol": "wss" if secure else "ws",
                "description": "This Parley server.",
                "security": [{"$ref": "#/components/securitySchemes/token"}],
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/ws/voice",
                "title": "A native voice session",
                "description": (
                    "The handshake always succeeds; a refused credential is a fatal `error` "
                    "message, then the socket closes (4401 for `unauthorized`)."
                ),
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {"token": {"type": "string", "description": TOKEN}},
                            "required": ["token"],
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
            }
        },
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": _start_schemas(),
            "securitySchemes": {
                "token": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": TOKEN,
                }
            },
        },
    }

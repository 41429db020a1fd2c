"""Small helpers shared by the API tests."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def agent_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Support",
        "voice_id": "en-us",
        "system_prompt": "You help callers.",
    }
    body.update(overrides)
    return body


async def make_agent(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await api.post("/v1/agents", json=agent_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_session(api: httpx.AsyncClient, agent_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(f"/v1/agents/{agent_id}/sessions", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_error(response: httpx.Response, status: int, code: str, *mentions: str) -> str:
    """The response is `{"error": {"code", "message"}}` with this status; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    for mention in mentions:
        assert mention in message, (mention, message)
    return message


def parse_time(value: str) -> datetime:
    assert ISO_UTC.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

"""The Realtime handshake on the wire, as browsers and servers make it: a key in the
`Authorization` header or in the `openai-insecure-api-key.` subprotocol (answered with
`realtime`), the beta subprotocol, a wrong key refused with 401 and OpenAI's error body,
and a model that names a Parley agent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.dialects.conftest import Stack
from tests.voice.conftest import KEY, QUICK


async def first_event(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await ws.recv())
    return event


async def test_a_browser_authenticates_with_the_subprotocol(stack: Stack) -> None:
    async with connect(
        stack.ws_url + "/v1/realtime?model=gpt-realtime",
        subprotocols=["realtime", f"openai-insecure-api-key.{KEY}"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "realtime"
        created = await first_event(ws)
        assert created["type"] == "session.created"
        assert created["session"]["type"] == "realtime"  # GA


async def test_the_beta_subprotocol_chooses_the_beta_shapes(stack: Stack) -> None:
    async with connect(
        stack.ws_url + "/v1/realtime?model=gpt-4o-realtime-preview",
        subprotocols=[  # type: ignore[list-item]
            "realtime",
            f"openai-insecure-api-key.{KEY}",
            "openai-beta.realtime-v1",
        ],
    ) as ws:
        created = await first_event(ws)
        assert created["session"]["input_audio_format"] == "pcm16"
        assert created["session"]["model"] == "gpt-4o-realtime-preview"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pk_wrong_key_0000000000000000"}])
async def test_a_missing_or_wrong_key_is_refused_with_401(
    stack: Stack, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(stack.ws_url + "/v1/realtime", additional_headers=headers):
            pass
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(response.body)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "invalid_api_key"


async def test_the_model_may_name_a_parley_agent(stack: Stack) -> None:
    agent = await stack.rest.create_agent(
        name="chosen", voice_id="default", system_prompt="Be brief.", greeting="Hi.", **QUICK
    )
    async with connect(
        stack.ws_url + f"/v1/realtime?model={agent['id']}",
        additional_headers={"Authorization": f"Bearer {KEY}"},
    ) as ws:
        created = await first_event(ws)
        await ws.send(json.dumps({"type": "response.create"}))
        kinds = []
        while "response.done" not in kinds:
            kinds.append((await first_event(ws))["type"])
    session = await stack.rest.get_session(created["session"]["id"])
    assert session["agent_id"] == agent["id"]
    assert "response.output_audio.delta" in kinds


async def test_an_unknown_agent_is_an_error_then_a_close(stack: Stack) -> None:
    async with connect(
        stack.ws_url + "/v1/realtime?model=agt_000000000000000000000000",
        additional_headers={"Authorization": f"Bearer {KEY}"},
    ) as ws:
        await first_event(ws)
        await ws.send(json.dumps({"type": "response.create", "event_id": "evt_1"}))
        error = await first_event(ws)
        assert error["type"] == "error" and error["error"]["code"] == "not_found"
        await ws.wait_closed()
    assert ws.close_code == 1008

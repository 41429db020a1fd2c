"""A full process refuses new calls in each dialect's own words while the calls it holds
go on; REST answers 503 with `Retry-After` when no process has room; `/readyz` turns
unready and `/healthz` stays live; an account's limit holds under 50 concurrent joins, on
SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from parley.client import ParleyClient, VoiceClient, VoiceError
from parley.server.runner import serving
from tests.support.joins import join_at_once
from tests.voice.conftest import KEY, collect, server_settings

AGENT = {"name": "a", "voice_id": "default", "system_prompt": "Hi.", "tts": "fake-tts"}


@dataclass
class Full:
    base: str
    rest: ParleyClient
    agent: str

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")


@pytest.fixture
async def full(tmp_path: Path) -> AsyncIterator[Full]:
    """A server that holds at most one call, holding one."""
    settings = server_settings(tmp_path, vad="fake-vad", max_sessions=1, admission=True)
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        async with VoiceClient.connect(url, start={"agent_id": agent}):
            yield Full(base, rest, agent)


async def test_a_native_caller_is_told_the_server_is_busy(full: Full) -> None:
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(f"{full.ws}/ws/voice?token={KEY}"):
            pass
    assert refused.value.code == "server_busy" and refused.value.payload["fatal"] is True
    assert "maximum of 1 calls" in refused.value.payload["message"]


async def test_a_deepgram_caller_gets_an_error_and_a_try_again_later_close(full: Full) -> None:
    async with connect(
        f"{full.ws}/v1/agent/converse", additional_headers={"Authorization": f"Token {KEY}"}
    ) as ws:
        first = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert first["type"] == "Error" and first["code"] == "SERVER_BUSY"
    assert ws.close_code == 1013


async def test_a_realtime_client_gets_a_server_busy_error_and_a_try_again_later_close(
    full: Full,
) -> None:
    async with connect(
        f"{full.ws}/v1/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {KEY}"},
    ) as ws:
        first = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert first["type"] == "error" and first["error"]["code"] == "server_busy"
    assert first["error"]["type"] == "server_error"
    assert ws.close_code == 1013


async def test_an_ultravox_join_is_closed_with_the_reason(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, vad="fake-vad", max_sessions=1, admission=True)
    async with (
        serving(settings) as base,
        httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}) as http,
    ):
        created = await http.post(
            "/api/calls", json={"medium": {"serverWebSocket": {"inputSampleRate": 16000}}}
        )
        assert created.status_code == 201, created.text  # there was room then
        url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        async with VoiceClient.connect(url), connect(created.json()["joinUrl"]) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert ws.close_code == 1013 and "maximum of 1 calls" in (ws.close_reason or "")


async def test_rest_refuses_new_sessions_when_no_process_has_room(full: Full) -> None:
    async with httpx.AsyncClient(
        base_url=full.base, headers={"Authorization": f"Bearer {KEY}"}
    ) as http:
        for answer in (
            await http.post(f"/v1/agents/{full.agent}/sessions", json={}),
            await http.post("/v1/voice", json={}),
        ):
            assert answer.status_code == 503, answer.text
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()["error"]["code"] == "server_busy"
        ready, alive = await http.get("/readyz"), await http.get("/healthz")
        assert ready.status_code == 503 and ready.json()["status"] == "full"
        assert ready.json()["load"]["sessions"] == 1
        assert alive.status_code == 200 and alive.json()["status"] == "full"
        assert (await http.get(f"/v1/agents/{full.agent}")).status_code == 200  # REST works


async def test_the_held_call_goes_on_and_room_returns_when_it_ends(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, vad="fake-vad", max_sessions=1, admission=True)
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        async with VoiceClient.connect(url, start={"agent_id": agent}) as call:
            with pytest.raises(VoiceError):
                async with VoiceClient.connect(url, start={"agent_id": agent}):
                    pass
            await call.say("hello")
            await collect(call, _agent_said)
            await call.stop()
        for _ in range(200):  # the session leaves the process as it closes
            if (await rest._http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        async with VoiceClient.connect(url, start={"agent_id": agent}) as again:
            await again.stop()


def _agent_said(message: dict[str, Any]) -> bool:
    payload = message["payload"]
    return message["type"] == "transcript" and payload["role"] == "agent" and payload["final"]


async def test_an_accounts_limit_holds_under_fifty_concurrent_joins(
    database_url: str, tmp_path: Path
) -> None:
    settings = server_settings(
        tmp_path, vad="fake-vad", database_url=database_url, max_sessions_per_account=5
    )
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        sessions = [await rest.create_session(agent) for _ in range(25)]
        key_url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        joins = [(s["websocket_url"], {}) for s in sessions]
        joins += [(key_url, {"agent_id": agent})] * 25  # API-key sessions count the same
        admitted, refusals = await join_at_once(joins, within=60)
    assert admitted == 5 and refusals == ["too_many_sessions"] * 45


async def test_an_account_at_its_limit_is_told_so_over_rest(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, vad="fake-vad", max_sessions_per_account=1)
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        async with VoiceClient.connect(url, start={"agent_id": agent}):
            answer = await rest._http.post(f"/v1/agents/{agent}/sessions", json={})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "5"
    assert answer.json()["error"]["code"] == "too_many_sessions"
    assert "PARLEY_MAX_SESSIONS_PER_ACCOUNT" in answer.json()["error"]["message"]


async def test_a_burst_of_joins_counts_before_its_sessions_open(tmp_path: Path) -> None:
    settings = server_settings(tmp_path, vad="fake-vad", max_sessions=10, admission=True)
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        agent = (await rest.create_agent(**AGENT))["id"]
        url = f"{base.replace('http://', 'ws://')}/ws/voice?token={KEY}"
        admitted, refusals = await join_at_once([(url, {"agent_id": agent})] * 30, within=60)
    assert admitted == 10 and refusals == ["server_busy"] * 20

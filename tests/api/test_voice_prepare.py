"""`POST /v1/voice`: preparing a native voice session (docs/protocols/native.md)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from parley.store import Store
from tests.api.helpers import assert_error, make_agent, make_session


async def test_prepare_without_agent_uses_the_accounts_default_agent(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post("/v1/voice", json={})

    assert response.status_code == 200
    prepared = response.json()
    assert prepared["object"] == "voice.session"
    url = urlsplit(prepared["url"])
    assert (url.scheme, url.path) == ("ws", "/ws/voice")
    assert parse_qs(url.query)["token"][0].startswith("st_")
    assert prepared["agent_id"].startswith("agt_")
    assert prepared["start_message"] == {
        "type": "start",
        "payload": {"agent_id": prepared["agent_id"]},
    }
    again = (await api.post("/v1/voice")).json()
    assert again["agent_id"] == prepared["agent_id"]
    assert again["url"] != prepared["url"]
    agents = (await api.get("/v1/agents")).json()
    assert [a["id"] for a in agents["data"]] == [prepared["agent_id"]]
    session = (await api.get(f"/v1/sessions/{prepared['session_id']}")).json()
    assert session["agent_id"] == prepared["agent_id"]
    assert session["status"] == "active"


async def test_prepare_echoes_the_start_payload_with_the_agent_resolved(
    api: httpx.AsyncClient,
) -> None:
    agent = await make_agent(api)
    payload: dict[str, Any] = {
        "agent_id": agent["id"],
        "initial_context": "The caller's parcel is late.",
        "user": {"email": "a@example.com", "first_name": "Ada"},
        "audio": {
            "input": {"encoding": "mulaw", "sample_rate": 8000},
            "output": {"encoding": "linear16", "sample_rate": 16000},
        },
        "voice_config": {"output_transcription": False},
        "binary_audio": True,
        "ephemeral": True,
        "some_future_field": 1,
    }

    prepared = (await api.post("/v1/voice", json=payload)).json()

    echoed = prepared["start_message"]["payload"]
    expected = {k: v for k, v in payload.items() if k != "some_future_field"}
    assert echoed == expected
    assert prepared["agent_id"] == agent["id"]


@pytest.mark.parametrize(
    ("payload", "mention"),
    [
        ({"audio": {"input": {"encoding": "opus"}}}, "body.audio.input.encoding"),
        ({"audio": {"output": {"encoding": "alaw", "sample_rate": 24000}}}, "alaw at 24000 Hz"),
        ({"audio": {"input": {"sample_rate": 12345}}}, "12345 Hz is not supported"),
        ({"initial_context": "x" * 2001}, "body.initial_context"),
        ({"initial_message": "x" * 2001}, "body.initial_message"),
        ({"ephemeral": "sometimes"}, "body.ephemeral"),
        ({"file_ids": "f1"}, "body.file_ids"),
    ],
)
async def test_prepare_rejects_invalid_payloads(
    api: httpx.AsyncClient, payload: dict[str, Any], mention: str
) -> None:
    assert_error(await api.post("/v1/voice", json=payload), 422, "invalid_request", mention)


async def test_prepare_with_unknown_agent_or_conversation_is_404(api: httpx.AsyncClient) -> None:
    assert_error(await api.post("/v1/voice", json={"agent_id": "agt_x"}), 404, "not_found")
    assert_error(
        await api.post("/v1/voice", json={"conversation_id": "cnv_x"}), 404, "not_found", "cnv_x"
    )


async def test_prepare_continues_an_existing_conversation(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api)
    first = await make_session(api, agent["id"])

    prepared = (
        await api.post(
            "/v1/voice",
            json={"agent_id": agent["id"], "conversation_id": first["conversation_id"]},
        )
    ).json()

    session = (await api.get(f"/v1/sessions/{prepared['session_id']}")).json()
    assert session["conversation_id"] == first["conversation_id"]


async def test_prepare_refuses_a_paused_agent(api: httpx.AsyncClient) -> None:
    agent = await make_agent(api)
    await api.patch(f"/v1/agents/{agent['id']}", json={"status": "paused"})

    assert_error(await api.post("/v1/voice", json={"agent_id": agent["id"]}), 409, "agent_paused")


async def test_a_deleted_default_agent_is_replaced_on_next_need(api: httpx.AsyncClient) -> None:
    first = (await api.post("/v1/voice")).json()["agent_id"]
    await api.delete(f"/v1/agents/{first}")

    second = (await api.post("/v1/voice")).json()["agent_id"]

    assert second != first
    assert (await api.get(f"/v1/agents/{second}")).status_code == 200


async def test_concurrent_first_prepares_share_one_default_agent(
    api: httpx.AsyncClient, store: Store
) -> None:
    responses = await asyncio.gather(*(api.post("/v1/voice") for _ in range(6)))

    agent_ids = {response.json()["agent_id"] for response in responses}
    assert len(agent_ids) == 1
    listed = (await api.get("/v1/agents")).json()
    assert listed["total"] == 1

"""Secrets: stored sealed, never shown, injected into an HTTP tool call only for a session
that was given them, and absent from every answer, transcript and log line."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from parley.client import ParleyClient, VoiceClient, VoiceError
from parley.server.runner import serving
from tests.dialects.conftest import Stack
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.support.fakes.tool_server import ToolServer
from tests.voice.conftest import KEY, collect, server_settings

VALUE = "s3cr3t-value-8f2d91"


@pytest.fixture
async def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    """Parley with PARLEY_SECRET_KEY set, a fake LLM and a local tool server."""
    llm, tools = FakeOpenAI(), ToolServer()
    async with run_asgi(llm.app) as llm_url, run_asgi(tools.app) as tools_url:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        settings = server_settings(
            tmp_path,
            vad="fake-vad",
            http_tools_allow=("127.0.0.1",),
            secret_key=Fernet.generate_key().decode(),
        )
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Stack(base, rest, llm, None, tools, tools_url)  # type: ignore[arg-type]


def _http(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.base_url, headers={"Authorization": f"Bearer {KEY}"})


async def test_without_a_secret_key_no_secret_is_stored(stack: Stack) -> None:
    async with _http(stack) as http:
        refused = await http.post("/v1/secrets", json={"name": "TOKEN", "value": VALUE})
    assert refused.status_code == 409 and "PARLEY_SECRET_KEY" in refused.text


async def test_a_secret_reaches_its_tool_and_nothing_else(
    sealed: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with _http(sealed) as http:
        created = await http.post("/v1/secrets", json={"name": "TOKEN", "value": VALUE})
        assert created.status_code == 201 and VALUE not in created.text
        again = await http.post("/v1/secrets", json={"name": "TOKEN", "value": "x"})
        assert again.status_code == 409
        listed = await http.get("/v1/secrets")
        assert [s["name"] for s in listed.json()["data"]] == ["TOKEN"] and VALUE not in listed.text
    secret_id = created.json()["id"]
    tool = {
        "name": "weather",
        "description": "The weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "endpoint": {
            "url": f"{sealed.tools_url}/weather",
            "headers": {"X-Key": "{{secret:TOKEN}}"},
        },
    }
    agent = await sealed.rest.create_agent(
        name="a", voice_id="default", system_prompt="Hi.", llm="openai:gpt-4o-mini",
        stt="fake-stt", tts="fake-tts:delay=10,seconds=0.3", tools=[tool],
    )  # fmt: skip

    async def ask(start: dict[str, object]) -> tuple[str, list[dict[str, object]]]:
        sealed.llm.chat_script = [
            Reply(tool_calls=[("c1", "weather", {"city": "Oslo"})]),
            Reply("Sunny."),
        ]
        prepared = await sealed.rest.prepare_voice(agent_id=agent["id"], **start)
        payload = prepared["start_message"]["payload"]
        async with VoiceClient.connect(prepared["url"], start=payload) as call:
            await call.say("weather in Oslo?")
            seen = await collect(
                call, lambda m: m["type"] == "transcript" and m["payload"].get("text") == "Sunny."
            )
            await call.stop()
        return call.session_id, seen

    given_id, seen = await ask({"secret_ids": [secret_id]})
    assert sealed.tools.calls[-1]["auth"] == VALUE  # the tool got the value
    _, not_given = await ask({})
    results = [m["payload"] for m in not_given if m["type"] == "tool_call"]
    assert len(sealed.tools.calls) == 1  # the session without the secret never called out

    async with _http(sealed) as http:
        answers = [
            await http.get(f"/v1/sessions/{given_id}/messages"),
            await http.get(f"/v1/sessions/{given_id}"),
            await http.get(f"/v1/agents/{agent['id']}"),
            await http.get("/v1/secrets"),
        ]
    assert all(VALUE not in answer.text for answer in answers)
    assert all(VALUE not in str(m) for m in [*seen, *not_given])
    assert VALUE not in caplog.text
    stored = (await sealed.rest.messages(given_id))["data"]
    assert any(m["role"] == "tool_call" and m["tool"]["status"] == "completed" for m in stored)
    assert any(r["status"] == "failed" for r in results)


async def test_a_secret_is_sealed_in_the_database(sealed: Stack, tmp_path: Path) -> None:
    async with _http(sealed) as http:
        await http.post("/v1/secrets", json={"name": "TOKEN", "value": VALUE})
    with sqlite3.connect(tmp_path / "parley.db") as db:
        [(stored,)] = db.execute("SELECT value FROM secrets").fetchall()
    assert stored.startswith("sealed:v1:") and VALUE not in stored


async def test_a_secret_that_does_not_exist_cannot_be_given(sealed: Stack) -> None:
    agent = await sealed.rest.create_agent(name="a", voice_id="default", system_prompt="Hi.")
    url = sealed.ws_url + f"/ws/voice?token={KEY}"
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(
            url, start={"agent_id": agent["id"], "secret_ids": ["sec_not_mine"]}
        ):
            pass
    assert refused.value.code == "not_found"


async def test_a_session_token_cannot_add_secrets_to_its_session(sealed: Stack) -> None:
    async with _http(sealed) as http:
        secret = (await http.post("/v1/secrets", json={"name": "TOKEN", "value": VALUE})).json()
    agent = await sealed.rest.create_agent(name="a", voice_id="default", system_prompt="Hi.")
    session = await sealed.rest.create_session(agent["id"])  # its URL carries a token
    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(
            session["websocket_url"], start={"secret_ids": [secret["id"]]}
        ):
            pass
    assert refused.value.code == "invalid_start"
    assert "prepared with" in refused.value.payload["message"]

"""A client-chosen LLM endpoint (an agent's `llm_endpoint`, Deepgram's `think.endpoint`)
belongs to whoever sent it: it must never receive the server's provider keys, and it is
reached only through the outbound address guard (the hostile test found both missing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.client import ParleyClient
from parley.server.runner import serving
from tests.dialects.test_deepgram_raw import LINEAR16, dial, v1_settings
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI
from tests.voice.conftest import KEY, server_settings

SERVER_KEY = "sk-the-operators-own-openai-key"


@dataclass
class Stage:
    base_url: str
    rest: ParleyClient
    provider: FakeOpenAI  # the operator's configured OpenAI-compatible server
    attacker: FakeOpenAI  # an endpoint an API user chose
    attacker_url: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def leaked(self) -> list[str]:
        return [
            f"{name}: {value}"
            for headers in self.attacker.headers_seen
            for name, value in headers.items()
            if SERVER_KEY in value
        ]


async def stage_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow: tuple[str, ...]
) -> AsyncIterator[Stage]:
    provider, attacker = FakeOpenAI(key=SERVER_KEY), FakeOpenAI(key="sk-attackers-own")
    async with run_asgi(provider.app) as provider_url, run_asgi(attacker.app) as attacker_url:
        monkeypatch.setenv("OPENAI_BASE_URL", provider_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
        settings = server_settings(tmp_path, vad="fake-vad", outbound_allow=allow)
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Stage(base, rest, provider, attacker, attacker_url)


@pytest.fixture
async def stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stage]:
    """Loopback allowed, so the attacker's server is reachable: only the key rule protects."""
    async for made in stage_for(tmp_path, monkeypatch, ("127.0.0.1",)):
        yield made


@pytest.fixture
async def guarded_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stage]:
    """Nothing private allowed: the attacker's loopback server is out of reach."""
    async for made in stage_for(tmp_path, monkeypatch, ()):
        yield made


async def converse_via_deepgram(stage: Stage, endpoint_url: str) -> list[str]:
    settings = v1_settings(
        think={
            "provider": {"type": "open_ai", "model": "gpt-4o-mini"},
            "endpoint": {"url": endpoint_url},
            "prompt": "Be brief.",
        },
        speak={"provider": {"type": "fake-tts"}},
    )
    async with dial(stage) as client:  # type: ignore[arg-type]
        await client.send(**settings)
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectUserMessage", content="hello")
        await client.wait_for("AgentAudioDone")  # the apology, since the model failed
    return [w["description"] for w in client.of("Warning")]


async def test_deepgram_think_endpoint_gets_no_server_key(stage: Stage) -> None:
    await converse_via_deepgram(stage, stage.attacker_url + "/v1")

    assert stage.attacker.headers_seen, "the endpoint was called"
    assert stage.leaked() == []
    assert stage.provider.headers_seen == []


async def test_an_agents_llm_endpoint_gets_no_server_key(stage: Stage) -> None:
    agent = await stage.rest.create_agent(
        name="mine",
        voice_id="default",
        system_prompt="Be brief.",
        llm="openai:gpt-4o-mini",
        tts="fake-tts",
        llm_endpoint={"url": stage.attacker_url + "/v1"},
    )
    async with dial(stage) as client:  # type: ignore[arg-type]
        await client.send(type="Settings", audio=LINEAR16, agent=agent["id"])
        await client.wait_for("SettingsApplied")
        await client.send(type="InjectUserMessage", content="hello")
        await client.wait_for("AgentAudioDone")

    assert stage.attacker.headers_seen and stage.leaked() == []


async def test_a_private_think_endpoint_is_refused_with_a_reason(guarded_stage: Stage) -> None:
    warnings = await converse_via_deepgram(guarded_stage, guarded_stage.attacker_url + "/v1")

    assert guarded_stage.attacker.headers_seen == []
    assert any("private, loopback or link-local" in w for w in warnings), warnings

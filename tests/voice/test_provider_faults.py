"""A language model that stalls or drops its stream mid-answer: the caller hears what was
said, then the apology, within the timeout; the failure is reported; the next turn works;
the transcript has the heard part. (Before, a stall meant 20 s of silence mid-sentence.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from parley.client import ParleyClient, VoiceClient
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.faults import Fault
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.voice.conftest import KEY, collect, of, server_settings

LLM_TIMEOUT_S = 1.0


def agent_said(message: dict[str, Any]) -> bool:
    payload = message["payload"]
    return bool(message["type"] == "transcript" and payload["final"] and payload["role"] == "agent")


@pytest.fixture
async def model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI(key="sk-provider-faults-test")
    async with run_asgi(fake.app) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", fake.key)
        settings = server_settings(tmp_path, vad="fake-vad", llm_timeout=LLM_TIMEOUT_S)
        async with serving(settings) as base:
            yield base, fake


@pytest.mark.parametrize("fault", [Fault("stall", seconds=30), Fault("drop")])
async def test_a_model_failing_mid_answer_is_apologised_for_and_the_call_goes_on(
    model: tuple[str, FakeOpenAI], fault: Fault
) -> None:
    base, fake = model
    fake.chat_script = [fault, Reply("Fine now.")]
    async with ParleyClient(base, KEY) as rest:
        agent = await rest.create_agent(
            name="f",
            voice_id="default",
            system_prompt="p",
            stt="fake-stt",
            llm="openai:gpt-4o-mini",
            tts="fake-tts:delay=10,seconds=0.4",
        )
        session = await rest.create_session(agent["id"])
        async with VoiceClient.connect(session["websocket_url"]) as call:
            await call.say("first question")
            first = await collect(call, agent_said, within=LLM_TIMEOUT_S + 8)
            await call.say("second question")
            second = await collect(call, agent_said, within=8)
            await call.stop()
            await collect(call, lambda m: m["type"] == "ended")
        messages = (await rest.messages(session["session_id"]))["data"]

    [failure] = [e for e in of(first, "error") if e["code"] == "llm_error"]
    assert failure["fatal"] is False
    said = [t["text"] for t in of(first, "transcript") if t["role"] == "agent" and t["final"]][-1]
    assert said.startswith("This answer will be cut"[:8]) and "sorry" in said.lower()
    assert [t["text"] for t in of(second, "transcript") if t["final"]][-1] == "Fine now."
    assert [m["role"] for m in messages] == ["user", "agent", "user", "agent"]

"""A Parley server with a real LLM provider: `OPENAI_BASE_URL` at an OpenAI-compatible
server (a local one speaking the real protocol), client-side and server-side tools, faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.client import ParleyClient, VoiceClient, VoiceError
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.deepgram_server import FakeDeepgram
from tests.support.fakes.elevenlabs_server import FakeElevenLabs
from tests.support.fakes.faults import Fault
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.support.fakes.tool_server import ToolServer
from tests.voice.conftest import (
    KEY,
    QUICK,
    Server,
    collect,
    of,
    quiet,
    server_settings,
    stream,
    tone,
)

LOOKUP = {
    "name": "lookup_order",
    "description": "Find an order by id",
    "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
}


@pytest.fixture
async def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Server, FakeOpenAI, ToolServer, str]]:
    llm, tools = FakeOpenAI(), ToolServer()
    async with run_asgi(llm.app) as llm_url, run_asgi(tools.app) as tools_url:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        settings = server_settings(tmp_path, vad="fake-vad", http_tools_allow=("127.0.0.1",))
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Server(base, rest, settings), llm, tools, tools_url


def agent_final(message: dict) -> bool:  # type: ignore[type-arg]
    return (
        message["type"] == "transcript"
        and message["payload"]["role"] == "agent"
        and message["payload"]["final"]
    )


async def test_the_agent_answers_with_the_model_and_uses_client_and_server_tools(
    stack: tuple[Server, FakeOpenAI, ToolServer, str],
) -> None:
    server, llm, tools, tools_url = stack
    weather = {
        "name": "weather",
        "description": "Forecast for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "endpoint": {"url": f"{tools_url}/weather", "method": "POST"},
    }
    llm.chat_script = [
        Reply("Let me check.", tool_calls=[("call_1", "lookup_order", {"id": "42"})]),
        Reply("", tool_calls=[("call_2", "weather", {"city": "Oslo"})]),
        Reply("It ships tomorrow, and it will be sunny in Oslo."),
    ]
    url, session = await server.session_url(
        llm="openai:gpt-test",
        stt=QUICK["stt"],
        tts=QUICK["tts"],
        tools=[LOOKUP, weather],
        temperature=0.2,
        max_tokens=200,
    )

    async with VoiceClient.connect(url) as call:
        await call.say("where is my order 42")
        asked = await collect(call, lambda m: m["type"] == "tool_call")
        await call.tool_result(of(asked, "tool_call")[0]["id"], {"status": "shipped"})
        rest = await collect(call, lambda m: agent_final(m) and "sunny" in m["payload"]["text"])
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")

    assert of(asked, "tool_call")[0] == {
        "id": "call_1",
        "name": "lookup_order",
        "arguments": {"id": "42"},
        "status": "requested",
        "client_side": True,
    }
    server_side = [t for t in of(rest, "tool_call") if t["name"] == "weather"]
    assert [(t["status"], t["client_side"]) for t in server_side] == [
        ("running", False),
        ("completed", False),
    ]
    assert tools.calls[0]["body"] == {"city": "Oslo"}
    third = llm.requests[2]["messages"]
    results = {m["tool_call_id"]: m["content"] for m in third if m["role"] == "tool"}
    assert results == {"call_1": '{"status": "shipped"}', "call_2": '{"forecast":"sunny in Oslo"}'}
    assert llm.requests[0]["temperature"] == 0.2 and llm.requests[0]["max_tokens"] == 200
    assert llm.requests[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    stored = (await server.rest.messages(session["session_id"]))["data"]
    assert [m["role"] for m in stored] == ["user", "agent", "tool_call", "tool_call", "agent"]


async def test_a_failing_model_leaves_the_session_running(
    stack: tuple[Server, FakeOpenAI, ToolServer, str],
) -> None:
    server, llm, _, _ = stack
    llm.chat_script = [Fault("http", status=500), Reply("Back again.")]
    url, session = await server.session_url(
        llm="openai:gpt-test", stt=QUICK["stt"], tts=QUICK["tts"]
    )

    async with VoiceClient.connect(url) as call:
        await call.say("hello?")
        first = await collect(call, agent_final)
        await call.say("hello again")
        second = await collect(call, agent_final)
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")

    [error] = of(first, "error")
    assert (
        error["code"] == "llm_error" and error["fatal"] is False and "HTTP 500" in error["message"]
    )
    assert of(first, "transcript")[-1]["text"] == "Sorry, I can't answer that right now."
    assert of(first, "audio"), "the apology is spoken"
    assert of(second, "transcript")[-1]["text"] == "Back again."
    stored = (await server.rest.messages(session["session_id"]))["data"]
    assert [m["text"] for m in stored if m["role"] == "agent"] == [
        "Sorry, I can't answer that right now.",
        "Back again.",
    ]


async def test_the_model_hangs_up_after_speaking(
    stack: tuple[Server, FakeOpenAI, ToolServer, str],
) -> None:
    server, llm, _, _ = stack
    llm.chat_script = [Reply("Goodbye!", tool_calls=[("call_h", "hang_up", {})])]
    url, _ = await server.session_url(
        llm="openai:gpt-test", stt=QUICK["stt"], tts=QUICK["tts"], tools=[{"builtin": "hang_up"}]
    )

    async with VoiceClient.connect(url) as call:
        await call.say("that's all, bye")
        ending = await collect(call, lambda m: m["type"] == "ended")

    assert of(ending, "ended")[0]["reason"] == "agent_hangup"
    assert of(ending, "audio"), "it said goodbye first"


async def test_missing_credentials_refuse_the_session_with_a_clear_error(
    stack: tuple[Server, FakeOpenAI, ToolServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _, _, _ = stack
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    url, session = await server.session_url(llm="openai:gpt-test", tts=QUICK["tts"])

    with pytest.raises(VoiceError) as refused:
        async with VoiceClient.connect(url):
            pass

    assert refused.value.code == "provider_unavailable"
    assert "OPENAI_API_KEY" in refused.value.payload["message"]
    stored = await server.rest.get_session(session["session_id"])
    assert (stored["status"], stored["end_reason"]) == ("ended", "error")


@pytest.fixture
async def speech_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Server, FakeDeepgram, FakeElevenLabs]]:
    deepgram, eleven = FakeDeepgram(), FakeElevenLabs()
    async with run_asgi(deepgram.app) as dg_url, run_asgi(eleven.app) as el_url:
        monkeypatch.setenv("DEEPGRAM_API_KEY", deepgram.key)
        monkeypatch.setenv("ELEVENLABS_API_KEY", eleven.key)
        settings = server_settings(
            tmp_path, vad="fake-vad", deepgram_url=dg_url, elevenlabs_url=el_url
        )
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Server(base, rest, settings), deepgram, eleven


async def test_hosted_speech_recognition_and_synthesis_hold_a_spoken_turn(
    speech_stack: tuple[Server, FakeDeepgram, FakeElevenLabs],
) -> None:
    server, deepgram, eleven = speech_stack
    deepgram.transcripts = ["what time do you close"]
    url, _ = await server.session_url(
        stt="deepgram", tts="elevenlabs:voice1", llm="echo", keyterms=["close"]
    )

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        speaker = asyncio.create_task(stream(call, quiet(0.2) + tone(0.8) + quiet(1.2)))
        messages = await collect(call, agent_final)
        await speaker
        await call.stop()

    user = [t for t in of(messages, "transcript") if t["role"] == "user"]
    assert user[-1] == {"role": "user", "text": "what time do you close", "final": True, "turn": 1}
    assert any(not t["final"] for t in user), "interim results reach the client"
    assert of(messages, "transcript")[-1]["text"] == "You said: what time do you close"
    assert len(b"".join(a["data"] for a in of(messages, "audio"))) > 24000 * 2 * 0.3
    assert deepgram.listen_queries[0]["keyterm"] == ["close"]
    assert eleven.requests[0]["voice"] == "voice1"


async def test_failing_speech_providers_are_reported_and_the_session_goes_on(
    speech_stack: tuple[Server, FakeDeepgram, FakeElevenLabs],
) -> None:
    server, deepgram, eleven = speech_stack
    deepgram.drop_after_s = 0.3  # recognition breaks mid-turn
    eleven.script = [Fault("http", status=500)]  # the first answer cannot be spoken
    url, session = await server.session_url(stt="deepgram", tts="elevenlabs:v", llm="echo")

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        speaker = asyncio.create_task(stream(call, tone(0.8) + quiet(1.0)))
        lost_turn = await collect(call, lambda m: m["type"] == "error")
        await speaker
        await call.say("can you hear me")
        unspoken = await collect(call, lambda m: m["type"] == "error")
        await call.say("and now")
        spoken = await collect(call, agent_final)
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")

    assert [(e["code"], e["fatal"]) for e in of(lost_turn, "error")] == [("stt_error", False)]
    assert [(e["code"], e["fatal"]) for e in of(unspoken, "error")] == [("tts_error", False)]
    assert of(spoken, "transcript")[-1]["text"] == "You said: and now"
    assert of(spoken, "audio")
    stored = (await server.rest.messages(session["session_id"]))["data"]
    # The caller went on talking after the drop: the rest of that speech is a new utterance,
    # heard by a fresh recognition stream (the session is not deaf after a failure).
    assert [(m["role"], m["text"]) for m in stored] == [
        ("user", "hello there"),
        ("user", "can you hear me"),
        ("user", "and now"),
        ("agent", "You said: and now"),
    ]

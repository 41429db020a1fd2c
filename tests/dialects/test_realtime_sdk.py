"""The official `openai` SDK's Realtime client, changed only in its base URLs and key, holds
conversations with Parley (GA and beta): session updates, spoken turns, audio and transcript
deltas, client function calls, barge-in, truncation, text responses, client-driven turns,
and every kind of bad event answered with an `error` while the session goes on.

The hosted model is a scripted local OpenAI server (tests/support/fakes/openai_server.py),
the VAD the loudness detector (a tone is speech) and the STT and TTS Parley's fakes, so
every turn is fast and known; tests/dialects/test_realtime_speech.py does the same on the
embedded stack with real speech.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.client import ParleyClient
from parley.server.runner import serving
from tests.support.asgi import run_asgi
from tests.support.fakes.openai_server import FakeOpenAI, Reply
from tests.support.realtime import Call, connect, quiet, tone
from tests.voice.conftest import KEY, server_settings

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
GA_SESSION = {
    "type": "realtime",
    "instructions": "You are a weather assistant.",
    "tools": [WEATHER],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    },
}


@dataclass
class Stack:
    base_url: str
    rest: ParleyClient
    llm: FakeOpenAI


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    llm = FakeOpenAI()
    async with run_asgi(llm.app) as llm_url:
        monkeypatch.setenv("OPENAI_BASE_URL", llm_url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", llm.key)
        settings = server_settings(
            tmp_path,
            vad="fake-vad",
            stt="fake-stt:delay=30",
            llm="openai:gpt-4o-mini",
            tts="fake-tts:delay=10,seconds=0.6",
        )
        async with serving(settings) as base, ParleyClient(base, KEY) as rest:
            yield Stack(base, rest, llm)


async def spoken_turn(call: Call) -> None:
    await call.send_audio(tone(0.8) + quiet(0.8))


async def test_a_spoken_turn_with_a_function_call_round_trip_ga(stack: Stack) -> None:
    stack.llm.chat_script = [
        Reply("Let me look that up.", tool_calls=[("call_w1", "get_weather", {"city": "Oslo"})]),
        Reply("It is sunny in Oslo today."),
    ]
    async with connect(stack.base_url, KEY) as call:
        created = await call.next("session.created")
        assert created.session.audio.input.format.type == "audio/pcm"
        await call.connection.session.update(session=GA_SESSION)
        updated = await call.next("session.updated")
        assert updated.session.instructions == "You are a weather assistant."
        assert updated.session.audio.input.turn_detection.silence_duration_ms == 300
        assert [t.name for t in updated.session.tools] == ["get_weather"]

        await spoken_turn(call)
        args = await call.next("response.function_call_arguments.done")
        assert (args.name, json.loads(args.arguments)) == ("get_weather", {"city": "Oslo"})
        first = await call.next("response.done")
        assert first.response.status == "completed"
        assert [o.type for o in first.response.output] == ["message", "function_call"]

        started = await call.next("input_audio_buffer.speech_started")
        stopped = await call.next("input_audio_buffer.speech_stopped")
        committed = await call.next("input_audio_buffer.committed")
        assert started.item_id == stopped.item_id == committed.item_id
        heard = await call.next("conversation.item.input_audio_transcription.completed")
        assert (heard.item_id, heard.transcript) == (committed.item_id, "hello there")

        await call.connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": args.call_id, "output": "sunny, 21C"}
        )
        mark = len(call.events)
        await call.connection.response.create()
        done = await call.next("response.done", after=mark, within=15)
        assert done.response.status == "completed"
        transcript = await call.next("response.output_audio_transcript.done", after=mark)
        assert transcript.transcript == "It is sunny in Oslo today."
        assert call.of("response.output_audio.delta"), "the answers were spoken"

    second = stack.llm.requests[1]["messages"]
    assert any(m["role"] == "tool" and m["content"] == "sunny, 21C" for m in second)
    assert second[0] == {"role": "system", "content": "You are a weather assistant."}
    kinds = call.kinds()
    first_response = kinds[kinds.index("response.created") :]
    assert first_response[:4] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    closing = first_response[first_response.index("response.output_audio.done") :]
    assert closing[:6] == [  # the words, then the call, then the end: OpenAI's order
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.output_item.added",
    ]

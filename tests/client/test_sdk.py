"""The Python SDK against a real server on a loopback port: real-time sending, files of
any kind, client-side tools answered once, and the REST helpers the CLI is built on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from parley.client import ParleyClient, VoiceClient
from parley.server.runner import serving
from tests.voice.conftest import KEY, QUICK, Server, collect, of, server_settings

PLACE_ORDER = {
    "name": "place_order",
    "description": "Place the order",
    "parameters": {
        "type": "object",
        "properties": {"item": {"type": "string"}},
        "required": ["item"],
    },
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """Parley with the loudness VAD (tone is speech) and quick fake providers."""
    settings = server_settings(tmp_path, vad="fake-vad")
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        yield Server(base, rest, settings)


def agent_said(message: dict[str, Any]) -> bool:
    payload = message["payload"]
    return message["type"] == "transcript" and payload["role"] == "agent" and payload["final"]


async def test_realtime_audio_goes_one_20ms_frame_per_20ms_on_one_schedule(
    server: Server,
) -> None:
    url, _ = await server.session_url(**QUICK)
    ten_frames = bytes(640 * 10)  # 200 ms of 16 kHz linear16

    async with VoiceClient.connect(url) as call:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await call.send_audio(ten_frames, realtime=True)
        one_call = loop.time() - started
        started = loop.time()
        for offset in range(0, len(ten_frames), 1280):  # two frames at a time, in 5 calls
            await call.send_audio(ten_frames[offset : offset + 1280], realtime=True)
        five_calls = loop.time() - started
        started = loop.time()
        await call.send_audio(ten_frames)  # the default: at once, the caller paces
        at_once = loop.time() - started
        await call.stop()

    # the 10th frame goes 9 frame-times after the first (the schedule carried on across
    # the calls, and picked up afresh after the pause between the two runs)
    assert 0.18 <= one_call < 1.0
    assert 0.18 <= five_calls < 1.0
    assert at_once < 0.1


async def test_stream_file_says_a_flac_in_real_time_at_the_sessions_rate(
    server: Server, tmp_path: Path
) -> None:
    rate = 44100  # neither the session's rate nor mono: it is mixed down and resampled
    t = np.arange(rate) / rate
    left = np.sin(2 * np.pi * 300 * t) * 0.2
    path = tmp_path / "tone.flac"
    soundfile.write(str(path), np.stack([left, left], axis=1), rate)
    url, _ = await server.session_url(**QUICK)

    async with VoiceClient.connect(url) as call:
        loop = asyncio.get_running_loop()
        started = loop.time()
        seconds = await call.stream_file(path, silence_after=0.8)  # the turn ends in quiet
        elapsed = loop.time() - started
        heard = await collect(call, agent_said)
        await call.stop()

    assert seconds == pytest.approx(1.0, abs=0.001)
    assert elapsed >= 1.77  # 90 frames in all, the last 89 frame-times after the first
    assert [t["text"] for t in of(heard, "transcript") if t["role"] == "user"] == ["hello there"]


async def test_stream_file_says_why_a_file_cannot_be_read(server: Server, tmp_path: Path) -> None:
    notes = tmp_path / "notes.ogg"
    notes.write_text("not audio at all\n" * 20)
    url, _ = await server.session_url(**QUICK)

    async with VoiceClient.connect(url) as call:
        with pytest.raises(ValueError, match="not a readable audio file"):
            await call.stream_file(notes)
        with pytest.raises(ValueError, match="no such file"):
            await call.stream_file(tmp_path / "missing.flac")
        await call.stop()


async def test_on_tool_call_answers_each_requested_call_once(server: Server) -> None:
    url, session = await server.session_url(llm="echo", tts=QUICK["tts"], tools=[PLACE_ORDER])
    asked: list[dict[str, Any]] = []

    async with VoiceClient.connect(url) as call:

        @call.on_tool_call
        async def place_order(tool: dict[str, Any]) -> dict[str, str]:
            asked.append(tool)
            await asyncio.sleep(0.05)  # a tool that takes a moment
            return {"confirmation": f"A-{len(asked)}"}

        await call.say("please place order for a pizza")
        first = await collect(call, agent_said)
        await call.say("place order for a salad too")
        second = await collect(call, agent_said)
        await call.stop()

    updates = of(first + second, "tool_call")
    assert [u["status"] for u in updates] == ["requested", "completed"] * 2  # echoes seen too
    assert [tool["id"] for tool in asked] == [updates[0]["id"], updates[2]["id"]]
    assert all(tool["status"] == "requested" for tool in asked)
    said = [t["text"] for t in of(first + second, "transcript") if t["role"] == "agent"]
    assert said[-1] == "place order says A-2" and "place order says A-1" in said
    stored = await server.rest.transcript(session["session_id"])
    assert [m["tool"]["result"] for m in stored if m["role"] == "tool_call"] == [
        '{"confirmation": "A-1"}',
        '{"confirmation": "A-2"}',
    ]


async def test_a_failing_tool_handler_tells_the_agent_instead_of_timing_out(
    server: Server,
) -> None:
    url, _ = await server.session_url(llm="echo", tts=QUICK["tts"], tools=[PLACE_ORDER])

    def out_of_stock(_tool: dict[str, Any]) -> None:
        raise RuntimeError("out of stock")

    async with VoiceClient.connect(url) as call:
        call.on_tool_call(out_of_stock)
        await call.say("please place order for a pizza")
        heard = await collect(call, agent_said, within=5)  # well inside the tool timeout
        await call.stop()

    assert of(heard, "transcript")[-1]["text"] == "place order says RuntimeError: out of stock"


async def test_sessions_listed_by_agent_and_status_and_the_voices(server: Server) -> None:
    agent = await server.agent(**QUICK)
    other = await server.agent(**QUICK)
    mine = await server.rest.create_session(agent["id"])
    await server.rest.create_session(other["id"])

    listed = await server.rest.list_sessions(agent_id=agent["id"], status=None)
    active = await server.rest.list_sessions(status="active")
    ended = await server.rest.list_sessions(status="ended")
    voices = await server.rest.list_voices()

    assert [s["session_id"] for s in listed["data"]] == [mine["session_id"]]
    assert active["total"] == 2 and ended["total"] == 0
    assert voices["data"] and all({"id", "name", "provider"} <= set(v) for v in voices["data"])

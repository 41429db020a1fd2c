"""End to end on the light embedded stack: Silero VAD, pocketsphinx, espeak-ng, echo.

Speech made by the espeak-ng binary streams in real time over a real WebSocket; the tests
check what was recognised (word error rate with the agent's keyterms), what came back
(real, non-silent audio in the requested format), barge-in, and what was stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from parley.bench.wer import word_error_rate
from parley.client import ParleyClient, VoiceClient
from parley.server.runner import serving
from tests.support.speech import noise, require_tools, speech
from tests.voice.conftest import KEY, Server, collect, of, server_settings, stream

PHRASES = [
    "i would like a large pepperoni pizza",
    "can i get a small cheese pizza",
    "what time do you close",
    "yes please place the order",
]
GREETING = (
    "Hello and welcome to the pizza line. Today we have pepperoni, cheese and "
    "vegetarian pizzas, in small, medium and large. What would you like?"
)


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Server]:
    require_tools()
    settings = server_settings(tmp_path, stt="pocketsphinx", tts="espeak")
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        yield Server(base, rest, settings)


def _final(role: str):
    return lambda m: (
        m["type"] == "transcript" and m["payload"]["role"] == role and m["payload"]["final"]
    )


async def test_a_spoken_conversation_is_recognised_answered_and_stored(embedded: Server) -> None:
    url, session = await embedded.session_url(keyterms=PHRASES, greeting="Pizza line, hello.")
    start = {
        "binary_audio": True,
        "audio": {"output": {"encoding": "linear16", "sample_rate": 24000}},
    }
    heard: list[str] = []
    replies: list[bytes] = []
    latencies: list[float] = []

    async with VoiceClient.connect(url, start=start) as call:
        await collect(call, _final("agent"))  # the greeting
        for phrase in PHRASES[:3]:
            speaker = asyncio.create_task(stream(call, speech(phrase) + noise(1.5)))
            messages = await collect(call, _final("agent"), within=20)
            await speaker
            heard += [
                t["text"] for t in of(messages, "transcript") if t["role"] == "user" and t["final"]
            ]
            replies.append(b"".join(a["data"] for a in of(messages, "audio")))
            latencies += [m["total_ms"] for m in of(messages, "metrics")]
        await call.stop()

    wer = np.mean([word_error_rate(p, h) for p, h in zip(PHRASES[:3], heard, strict=True)])
    assert wer <= 0.1, (heard, wer)
    for audio in replies:
        samples = np.frombuffer(audio, np.int16).astype(np.float64)
        assert samples.size > 24000 * 0.8, "at least most of a second of speech at 24 kHz"
        assert np.sqrt(np.mean(samples**2)) > 500, "the agent's audio is not silence"
    assert all(0 < latency < 1500 for latency in latencies), latencies
    stored = (await embedded.rest.messages(session["session_id"]))["data"]
    assert [m["role"] for m in stored] == [
        "agent",
        "user",
        "agent",
        "user",
        "agent",
        "user",
        "agent",
    ]
    assert [m["text"] for m in stored if m["role"] == "user"] == heard
    assert all(m["metrics"]["total_ms"] > 0 for m in stored[2::2])


async def test_talking_over_the_agent_stops_it_within_a_few_hundred_ms(embedded: Server) -> None:
    url, session = await embedded.session_url(keyterms=PHRASES, greeting=GREETING)

    async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
        await collect(call, lambda m: m["type"] == "audio")
        await asyncio.sleep(1.5)  # the caller listens a little, then talks over the greeting
        loop = asyncio.get_running_loop()
        speaking_from = loop.time() + 0.05  # espeak leaves ~50 ms of lead-in silence
        speaker = asyncio.create_task(stream(call, speech(PHRASES[0]) + noise(2.0)))
        messages = await collect(call, lambda m: m["type"] == "interrupted", within=10)
        reaction_ms = (loop.time() - speaking_from) * 1000
        answer = await collect(call, _final("agent"), within=20)
        await speaker
        await call.stop()

    assert reaction_ms < 600, reaction_ms  # start_ms 150 + min_interruption_ms 200 + framing
    cut = [t for t in of(messages + answer, "transcript") if t["role"] == "agent" and t["final"]]
    assert GREETING.startswith(cut[0]["text"]) and len(cut[0]["text"]) < len(GREETING)
    stored = (await embedded.rest.messages(session["session_id"]))["data"]
    assert stored[0]["interrupted"] is True and stored[0]["text"] == cut[0]["text"]
    assert word_error_rate(PHRASES[0], stored[1]["text"]) <= 0.15


async def test_a_client_that_vanishes_mid_answer_loses_nothing(
    tmp_path: Path, database_url: str
) -> None:
    settings = server_settings(tmp_path, database_url=database_url)
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        server = Server(base, rest, settings)
        url, session = await server.session_url(keyterms=PHRASES)
        async with VoiceClient.connect(url, start={"binary_audio": True}) as call:
            speaker = asyncio.create_task(stream(call, speech(PHRASES[1]) + noise(1.0)))
            await collect(call, lambda m: m["type"] == "audio", within=20)
            await asyncio.sleep(0.3)
            speaker.cancel()
            call._ws.transport.abort()  # vanish: no close handshake

        for _ in range(100):
            stored = await rest.get_session(session["session_id"])
            if stored["status"] == "ended":
                break
            await asyncio.sleep(0.05)
        messages = (await rest.messages(session["session_id"]))["data"]

    assert stored["end_reason"] == "disconnect"
    assert [m["role"] for m in messages] == ["user", "agent"]
    assert word_error_rate(PHRASES[1], messages[0]["text"]) <= 0.15
    assert messages[1]["interrupted"] is True
    assert messages[1]["text"].startswith("You said")

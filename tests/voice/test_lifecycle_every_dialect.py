"""The call lifecycle outside the Ultravox dialect: a native `start` sets it for one session,
an agent sets it for every dialect (Deepgram included), and recording works the same."""

from __future__ import annotations

import asyncio
import io
import json
import wave

import numpy as np
from websockets.asyncio.client import connect

from parley.client import VoiceClient
from tests.voice.conftest import KEY, QUICK, Server, collect, of, quiet, stream, tone

PCM16K = {"encoding": "linear16", "sample_rate": 16000}


async def test_a_native_start_limits_the_call_and_says_the_closing_line(server: Server) -> None:
    url, _ = await server.session_url(**QUICK)
    lifecycle = {"max_duration_s": 1.5, "closing_message": "Our time is up."}
    start = {"audio": {"input": PCM16K, "output": PCM16K}, "lifecycle": lifecycle}
    async with VoiceClient.connect(url, start=start) as call:
        feeding = asyncio.create_task(stream(call, quiet(6.0)))
        seen = await collect(call, lambda m: m["type"] == "ended", within=10)
        feeding.cancel()
    [ended] = of(seen, "ended")
    assert ended["reason"] == "max_duration"
    finals = [m["text"] for m in of(seen, "transcript") if m["role"] == "agent" and m["final"]]
    assert finals == ["Our time is up."]
    stored = await server.rest.get_session(call.session_id)
    assert stored["end_reason"] == "max_duration"


async def test_a_native_session_can_be_recorded(server: Server) -> None:
    url, _ = await server.session_url(**QUICK, greeting="Hello there.")
    start = {"audio": {"input": PCM16K, "output": PCM16K}, "record": True}
    async with VoiceClient.connect(url, start=start) as call:
        await stream(call, quiet(1.0) + tone(0.8) + quiet(1.5))
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended", within=10)
    await asyncio.sleep(0.3)
    assert (await server.rest.get_session(call.session_id))["recorded"] is True
    with wave.open(io.BytesIO(await server.rest.recording(call.session_id))) as reader:
        assert reader.getnchannels() == 2
        audio = np.frombuffer(reader.readframes(reader.getnframes()), np.int16).reshape(-1, 2)
    energy = np.sqrt(np.mean(audio.astype(float) ** 2, axis=0))
    assert energy[0] > 300 and energy[1] > 300  # the caller's tone left, the agent right


async def test_an_agents_inactivity_prompts_end_a_deepgram_session(server: Server) -> None:
    lifecycle = {"inactivity": [{"after_s": 0.5, "message": "Goodbye then.", "hang_up": "strict"}]}
    agent = await server.agent(**QUICK, lifecycle=lifecycle)
    assert agent["lifecycle"]["inactivity"][0]["hang_up"] == "strict"
    settings = {
        "type": "Settings",
        "audio": {"input": PCM16K, "output": PCM16K},
        "agent": agent["id"],
    }
    texts: list[str] = []
    url = server.base_url.replace("http://", "ws://") + "/v1/agent/converse"
    async with connect(url, additional_headers={"Authorization": f"Token {KEY}"}) as ws:
        await ws.send(json.dumps(settings))
        async with asyncio.timeout(10):
            async for frame in ws:
                if isinstance(frame, str):
                    message = json.loads(frame)
                    if message["type"] == "ConversationText":
                        texts.append(message["content"])
    assert texts == ["Goodbye then."]
    sessions = await server.rest.list_sessions()
    assert sessions["data"][0]["end_reason"] == "inactivity"

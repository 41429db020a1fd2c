"""The phone benchmark: a spoken conversation over a Twilio Media Stream against the same
conversation over the native WebSocket at 16 kHz, on the embedded stack.

A real `parley serve` (its own process), the `echo` model, an agent with the corpus's domain
keyterms and a Twilio number. Each caller says corpus sentences (espeak `en-us`, as
`bench-speech` does) in real time, each after the previous reply has finished: on the phone
path as Twilio sends them (8 kHz μ-law, 20 ms `media` messages, the agent's audio played at
real-time pace; `parley.bench.phone`), on the native path as 16 kHz PCM frames.

Measured at the caller: end of speech (the last frame of the words, before the utterance's
trailing room) → the first agent audio heard (phone: played by the simulated Twilio; native:
received), p50/p95; and the WER of what the server stored for each line.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
from twilio.request_validator import RequestValidator

from parley.audio.g711 import pcm_to_ulaw
from parley.audio.pcm import Int16Array
from parley.bench import corpus
from parley.bench.phone import TwilioCall, read_twiml
from parley.bench.report import percentiles
from parley.bench.server import BenchServer
from parley.bench.speech import bench_agent
from parley.bench.wer import word_error_rate
from parley.client import ParleyClient, VoiceClient
from parley.providers.tts.espeak import EspeakEngine

ACCOUNT_SID = "AC" + "b0" * 16  # a simulated Twilio account: nothing leaves the machine
AUTH_TOKEN = "bench-phone-auth-token-0123456789"
NUMBER = "+15550100000"
QUIET_AFTER_S = 0.8  # of silence after each line (the endpoint needs some)
REPLY_DONE_S = 0.8  # no agent audio for this long: the reply is over
UNANSWERED_S = 10.0
START = {"binary_audio": True, "audio": {"output": {"encoding": "linear16", "sample_rate": 16000}}}
Line = tuple[str, Int16Array]


def _more(times: list[float], seen: int) -> bool:
    return len(times) > seen


def _after(times: list[float], moment: float) -> bool:
    return any(t > moment for t in times)


async def _reply(started: Callable[[], bool], last_audio: Callable[[], float]) -> None:
    """Until a reply has begun (at most `UNANSWERED_S`) and then gone quiet for
    `REPLY_DONE_S` (at most a minute)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UNANSWERED_S
    while not started():
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.02)
    for _ in range(60 * 20):  # a minute at most
        if loop.time() - last_audio() >= REPLY_DONE_S:
            return
        await asyncio.sleep(0.05)


async def _phone_caller(server: BenchServer, lines: list[Line]) -> list[Any]:
    call_sid = "CA" + np.random.default_rng(len(lines)).bytes(16).hex()
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15550199999", "To": NUMBER}
    url = server.url + "/telephony/twilio/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, data=form, headers={"X-Twilio-Signature": signature})
    answer.raise_for_status()
    latencies: list[float | None] = []
    loop = asyncio.get_running_loop()
    async with TwilioCall.answer(answer.text, call_sid=call_sid, account_sid=ACCOUNT_SID) as call:
        played = call.played
        room = pcm_to_ulaw(np.zeros(int(8000 * QUIET_AFTER_S), np.int16))
        await _reply(lambda: bool(played.first_audio_at), lambda: played.last_audio_at)
        for _text, samples in lines:
            speech, replies = corpus.phone_line(samples), len(played.first_audio_at)
            speech_end = loop.time() + len(speech) / 8000 - corpus.EDGE_S
            await call.say(speech + room)
            answered = functools.partial(_more, played.first_audio_at, replies)
            await _reply(answered, lambda: played.last_audio_at)
            later = [t for t in played.first_audio_at[replies:] if t > speech_end]
            latencies.append((later[0] - speech_end) * 1000 if later else None)
        await call.hang_up()
    return [read_twiml(answer.text).parameters["session_id"], latencies]


async def _native_caller(rest: ParleyClient, agent_id: str, lines: list[Line]) -> list[Any]:
    session = await rest.create_session(agent_id)
    loop = asyncio.get_running_loop()
    latencies: list[float | None] = []
    arrivals: list[float] = []
    async with VoiceClient.connect(session["websocket_url"], start=START) as call:

        async def read() -> None:
            async for message in call.messages():
                if message["type"] == "audio":
                    arrivals.append(loop.time())

        reader = asyncio.create_task(read())
        room = np.zeros(int(corpus.RATE * QUIET_AFTER_S), np.int16)

        def last() -> float:
            return arrivals[-1] if arrivals else 0.0

        try:
            await _reply(lambda: bool(arrivals), last)
            for _text, samples in lines:
                speech_end = loop.time() + samples.size / corpus.RATE - corpus.EDGE_S
                await call.send_audio(np.concatenate([samples, room]).tobytes(), realtime=True)
                await _reply(functools.partial(_after, arrivals, speech_end), last)
                later = [t for t in arrivals if t > speech_end]
                latencies.append((later[0] - speech_end) * 1000 if later else None)
            await call.stop()
        finally:
            reader.cancel()
    return [session["session_id"], latencies]


async def run(
    callers: int, turns: int, stack: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    voice = EspeakEngine.shared().synthesizer("en-us")
    lines = [(t, await corpus.speak(voice, t, seed=i)) for i, t in enumerate(corpus.SENTENCES)]
    env = {
        "PARLEY_STT": stack["stt"],
        "PARLEY_TTS": stack["tts"],
        "PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    result: dict[str, Any] = {"callers": callers, "turns": turns, "paths": []}
    with BenchServer(1, env) as server:
        async with ParleyClient(server.url, server.key) as rest:
            agent = await bench_agent(rest, "phone bench")
            async with httpx.AsyncClient(base_url=server.url) as http:
                added = await http.post(
                    "/v1/phone-numbers",
                    json={"number": NUMBER, "agent_id": agent["id"]},
                    headers={"Authorization": f"Bearer {server.key}"},
                )
                added.raise_for_status()
            for path in ("native 16 kHz", "phone 8 kHz μ-law"):
                progress(f"{path}: {callers} caller(s) talking")
                mine = [
                    [lines[(i * 7 + k) % len(lines)] for k in range(turns)] for i in range(callers)
                ]
                if path.startswith("phone"):
                    done = await asyncio.gather(*(_phone_caller(server, m) for m in mine))
                else:
                    done = await asyncio.gather(
                        *(_native_caller(rest, agent["id"], m) for m in mine)
                    )
                result["paths"].append(await _summary(rest, path, mine, done))
    return result


async def _summary(
    rest: ParleyClient, path: str, said: list[list[Line]], done: list[list[Any]]
) -> dict[str, Any]:
    errors, latencies = [], []
    for lines, (session_id, measured) in zip(said, done, strict=True):
        await asyncio.sleep(0.3)  # the transcript's last rows are written within 0.1 s
        heard = [m["text"] for m in await rest.transcript(session_id) if m["role"] == "user"]
        for index, (text, _samples) in enumerate(lines):
            errors.append(word_error_rate(text, heard[index] if index < len(heard) else ""))
        latencies += [ms for ms in measured if ms is not None]
    return {
        "path": path,
        "turns": len(errors),
        "unanswered": len(errors) - len(latencies),
        "first_audio_ms": percentiles(latencies, 50, 95),
        "wer": round(statistics.fmean(errors), 4) if errors else None,
    }

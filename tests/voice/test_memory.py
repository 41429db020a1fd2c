"""Ended sessions give their memory back. On the embedded stack each session used to keep
its pocketsphinx decoder (~90 MB of native memory, the generic model) until a rare full
garbage collection: 30 one-second sessions took a server from 148 MB to 2.9 GB with none
live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from parley.client import ParleyClient, VoiceClient
from parley.providers.base import RecognitionListener, Transcription
from parley.providers.stt.pocketsphinx import PocketsphinxRecognizer
from parley.server.runner import serving
from tests.voice.conftest import KEY, collect, server_settings

SESSIONS = 8
ALLOWED_MB = 150  # the fixed stack is flat within a few MB; the leak was ~90 MB a session


async def one_call(rest: ParleyClient, agent_id: str) -> None:
    session = await rest.create_session(agent_id)
    async with VoiceClient.connect(session["websocket_url"]) as call:
        await call.say("hello there")
        await collect(call, lambda m: m["type"] == "metrics", within=20)
        await call.stop()
        await collect(call, lambda m: m["type"] == "ended")


async def test_sessions_on_the_embedded_stack_do_not_keep_their_memory(tmp_path: Path) -> None:
    process = psutil.Process()
    async with serving(server_settings(tmp_path)) as base, ParleyClient(base, KEY) as rest:
        agent = await rest.create_agent(name="m", voice_id="default", system_prompt="Hi.")
        await one_call(rest, agent["id"])  # warm: shared models, allocator arenas
        before = process.memory_info().rss
        for _ in range(SESSIONS):
            await one_call(rest, agent["id"])
        grown_mb = (process.memory_info().rss - before) / 2**20

    assert grown_mb < ALLOWED_MB, f"{SESSIONS} ended sessions kept {grown_mb:.0f} MB"


class _Quiet(RecognitionListener):
    def on_transcription(self, result: Transcription) -> None:
        pass

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        pass


async def test_closing_a_recogniser_frees_its_decoder(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        recognizer = PocketsphinxRecognizer(
            listener=_Quiet(), executor=pool, keyterms=[], cache_dir=tmp_path
        )
        recognizer.begin(1)
        recognizer.feed(np.zeros(1600, dtype=np.int16))
        for _ in range(200):  # the decoder loads on the worker
            if getattr(recognizer, "_decoder", None) is not None:
                break
            await asyncio.sleep(0.05)
        assert recognizer._decoder is not None
        await recognizer.aclose()
        for _ in range(100):
            if recognizer._decoder is None:
                break
            await asyncio.sleep(0.05)
    decoder: Any = recognizer._decoder
    assert decoder is None

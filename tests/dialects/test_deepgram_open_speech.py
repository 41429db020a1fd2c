"""A Deepgram client on a server with no provider keys: the `listen`, `think` and `speak`
providers it asks for fall back to the embedded stack, whose recogniser (Whisper)
understands open speech it was given no keyterms for; the reply is spoken by Piper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parley.bench import corpus
from parley.bench.wer import word_error_rate
from parley.client import ParleyClient
from parley.config import NEURAL_STT, _installed
from parley.providers.tts.espeak import EspeakEngine
from parley.server.runner import serving
from tests.dialects.conftest import Stack
from tests.dialects.test_deepgram_sdk import connect, settings
from tests.voice.conftest import KEY, quiet, server_settings

OPEN_SPEECH = "hello my name is alex and i need some help"

pytestmark = pytest.mark.skipif(not _installed(*NEURAL_STT), reason="the neural stack")


async def test_open_speech_from_the_official_sdk_is_understood_without_a_deepgram_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)  # no keys: every hosted provider falls back
    speech = await corpus.speak(EspeakEngine.shared().synthesizer("en-us"), OPEN_SPEECH, 3)
    async with (
        serving(server_settings(tmp_path)) as base,  # real Silero, default Whisper + Piper
        ParleyClient(base, KEY) as rest,
    ):
        stack = Stack(base, rest, None, None, None, "http://127.0.0.1:9")  # type: ignore[arg-type]
        agent = settings(stack)  # Deepgram listen + speak, OpenAI think: none usable here
        async with connect(stack) as call:
            await call.socket.send_settings(agent)
            await call.wait(lambda: bool(call.of("SettingsApplied")), within=3)
            await call.wait(lambda: any(m.role == "assistant" for m in call.of("ConversationText")))
            await call.stream(np.asarray(speech).tobytes() + quiet(1.5))
            await call.wait(
                lambda: any(m.role == "user" for m in call.of("ConversationText")), within=20
            )
            heard = next(m.content for m in call.of("ConversationText") if m.role == "user")
            before = len(call.audio)
            assert word_error_rate(OPEN_SPEECH, heard) <= 0.2, heard
            await call.wait(
                lambda: any(
                    m.role == "assistant" and m.content.startswith("You said")
                    for m in call.of("ConversationText")
                ),
                within=20,
            )
            assert len(call.audio) > before + 24000 * 2  # over a second of the spoken reply

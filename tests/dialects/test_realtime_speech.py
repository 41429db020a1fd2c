"""An application written for OpenAI's Realtime API, using the official SDK, holds a spoken
conversation with a tool call against Parley on the embedded offline stack (real Silero,
the embedded recogniser, the `echo` model, Piper), by changing only its base URL and key.

The caller's speech is espeak's, sent as 24 kHz pcm16 at real-time pace; nothing in the
server was told what it would say."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from parley.bench import corpus
from parley.bench.wer import word_error_rate
from parley.config import NEURAL_STT, _installed
from parley.providers.tts.espeak import EspeakEngine
from parley.server.runner import serving
from tests.support.realtime import at_24k, connect, quiet
from tests.voice.conftest import KEY, server_settings

ASKED = "please check the weather in paris"
CHECK_WEATHER = {
    "type": "function",
    "name": "check_weather",
    "description": "Today's weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

pytestmark = pytest.mark.skipif(not _installed(*NEURAL_STT), reason="the neural stack")


async def test_a_spoken_conversation_with_a_tool_call_on_the_embedded_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DEEPGRAM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    speech = await corpus.speak(EspeakEngine.shared().synthesizer("en-us"), ASKED, 5)
    async with serving(server_settings(tmp_path)) as base, connect(base, KEY) as call:
        await call.connection.session.update(
            session={
                "type": "realtime",
                "instructions": "You are a weather line.",
                "tools": [CHECK_WEATHER],
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "whisper-1"},
                        "turn_detection": {"type": "server_vad"},
                    },
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
                },
            }
        )
        await call.next("session.updated")
        await call.send_audio(at_24k(np.asarray(speech)) + quiet(1.5))

        heard = await call.next("conversation.item.input_audio_transcription.completed", within=30)
        assert word_error_rate(ASKED, heard.transcript) <= 0.2, heard.transcript
        args = await call.next("response.function_call_arguments.done", within=30)
        assert args.name == "check_weather"
        assert "paris" in json.loads(args.arguments)["city"].lower()
        await call.next("response.done", within=30)

        await call.connection.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": args.call_id,
                "output": "sunny and 21 degrees",
            }
        )
        mark, audio_before = len(call.events), len(call.audio)
        await call.connection.response.create()
        done = await call.next("response.done", after=mark, within=30)
        assert done.response.status == "completed"
        said = done.response.output[0].content[0].transcript
        assert "sunny and 21 degrees" in said
        spoken = len(call.audio) - audio_before
        assert spoken > 24000 * 2, "over a second of Piper's reply, as 24 kHz pcm16"
        deltas = [e for e in call.events[mark:] if e.type == "response.output_audio.delta"]
        assert sum(len(base64.b64decode(e.delta)) for e in deltas) == spoken

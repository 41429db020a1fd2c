"""A phone call on the embedded offline stack (real Silero, the embedded recogniser, the
`echo` model, Piper): espeak's speech through an 8 kHz μ-law phone line, sent by a Twilio
that speaks the Media Streams protocol exactly, is understood and answered. Nothing in the
server was told what the caller would say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parley.audio.g711 import pcm_to_ulaw
from parley.audio.resample import Resampler
from parley.bench import corpus
from parley.bench.phone import TwilioCall, read_twiml
from parley.bench.wer import word_error_rate
from parley.config import NEURAL_STT, _installed
from parley.providers.tts.espeak import EspeakEngine
from tests.dialects.twilio_support import CALLER, NUMBER, phone_server, until
from tests.support.fakes.twilio_server import ACCOUNT_SID

SAID = "could you move my appointment to thursday morning"

pytestmark = pytest.mark.skipif(not _installed(*NEURAL_STT), reason="the neural stack")


def phone_line(samples: np.ndarray) -> bytes:
    """16 kHz speech as a phone line carries it: 8 kHz μ-law."""
    down = Resampler(corpus.RATE, 8000, "HQ")
    return pcm_to_ulaw(np.concatenate([down.process(samples), down.flush()]))


async def test_a_spoken_phone_call_on_the_embedded_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DEEPGRAM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    speech = phone_line(await corpus.speak(EspeakEngine.shared().synthesizer("en-us"), SAID, 3))
    quiet = pcm_to_ulaw(np.random.default_rng(1).normal(0, 50, 8000).astype(np.int16))
    async with phone_server(tmp_path) as phone:
        agent = await phone.agent(greeting="Hello, how can I help?")
        await phone.number(agent["id"])
        incoming = phone.twilio.incoming(NUMBER, CALLER)
        twiml = await phone.stream_for(incoming)
        session_id = read_twiml(twiml).parameters["session_id"]
        async with TwilioCall.answer(twiml, call_sid=incoming.sid, account_sid=ACCOUNT_SID) as call:
            await until(lambda: len(call.played.audio) > 8000 * 0.5, within=30)  # greeting
            await until(lambda: len(call.played.first_audio_at) >= 1, within=30)
            await call.say(quiet * 2)  # the greeting plays out
            await call.say(speech + quiet * 2)
            await until(lambda: len(call.played.first_audio_at) >= 2, within=30)
            await call.hang_up()
        lines = [(m["role"], m["text"]) for m in await phone.rest.transcript(session_id)]

    heard = [text for role, text in lines if role == "user"]
    assert heard, lines
    assert word_error_rate(SAID, heard[0]) <= 0.35, heard[0]
    assert [role for role, _ in lines][:3] == ["agent", "user", "agent"]

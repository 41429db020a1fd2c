"""Speech recognition and synthesis providers against local protocol-faithful servers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from parley.providers.base import (
    ProviderError,
    ProviderUnavailable,
    RecognitionListener,
    SpeechSynthesizer,
    Transcription,
)
from parley.providers.stt import deepgram as deepgram_module
from tests.providers.conftest import HubFactory, Served
from tests.support.fakes.faults import Fault


class Heard(RecognitionListener):
    def __init__(self) -> None:
        self.results: list[Transcription] = []
        self.errors: list[tuple[int, Exception]] = []
        self.changed = asyncio.Event()

    def on_transcription(self, result: Transcription) -> None:
        self.results.append(result)
        self.changed.set()

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        self.errors.append((utterance, error))
        self.changed.set()

    async def wait(self, predicate: object, within: float = 10) -> None:
        async def loop() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), within)

    def finals(self) -> list[tuple[int, str]]:
        return [(r.utterance, r.text) for r in self.results if r.final]


def speechlike(seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (np.sin(2 * np.pi * 200 * t) * 5000).astype(np.int16)


async def say(recognizer: object, utterance: int, seconds: float = 1.0) -> None:
    recognizer.begin(utterance)  # type: ignore[attr-defined]
    audio = speechlike(seconds)
    for start in range(0, audio.size, 320):
        recognizer.feed(audio[start : start + 320])  # type: ignore[attr-defined]
        if start % 3200 == 0:
            await asyncio.sleep(0.01)
    recognizer.finish()  # type: ignore[attr-defined]


def deepgram_hub(make_hub: HubFactory, served: Served, key: str | None = None) -> object:
    return make_hub({"DEEPGRAM_API_KEY": key or served.fake.key}, deepgram_url=served.url)


async def test_deepgram_streams_interim_results_and_a_final_per_turn(
    make_hub: HubFactory, deepgram_fake: Served
) -> None:
    deepgram_fake.fake.transcripts = ["i would like a large pizza", "thank you"]
    hub = deepgram_hub(make_hub, deepgram_fake)
    heard = Heard()
    recognizer = hub.recognizer(
        ["deepgram"],
        keyterms=["pepperoni", "margherita"],  # type: ignore[attr-defined]
        language="en",
    )(heard)
    try:
        await say(recognizer, 1, seconds=1.2)
        await heard.wait(lambda: len(heard.finals()) == 1)
        await say(recognizer, 2, seconds=0.6)
        await heard.wait(lambda: len(heard.finals()) == 2)
    finally:
        await recognizer.aclose()

    assert heard.finals() == [(1, "i would like a large pizza"), (2, "thank you")]
    assert any(not r.final and r.utterance == 1 for r in heard.results), "interim results"
    [query] = deepgram_fake.fake.listen_queries
    assert query["model"] == ["nova-3"] and query["encoding"] == ["linear16"]
    assert query["sample_rate"] == ["16000"] and query["interim_results"] == ["true"]
    assert query["keyterm"] == ["pepperoni", "margherita"]


async def test_deepgram_keeps_an_idle_stream_alive(
    make_hub: HubFactory, deepgram_fake: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deepgram_module, "KEEPALIVE_S", 0.1)
    heard = Heard()
    recognizer = deepgram_hub(make_hub, deepgram_fake).recognizer(  # type: ignore[attr-defined]
        ["deepgram"], keyterms=[], language="en"
    )(heard)
    try:
        await asyncio.sleep(0.6)
    finally:
        await recognizer.aclose()

    assert deepgram_fake.fake.keepalives >= 3


async def test_deepgram_refusing_the_key_fails_the_utterance(
    make_hub: HubFactory, deepgram_fake: Served
) -> None:
    heard = Heard()
    recognizer = deepgram_hub(make_hub, deepgram_fake, key="wrong").recognizer(  # type: ignore[attr-defined]
        ["deepgram"], keyterms=[], language="en"
    )(heard)
    try:
        await say(recognizer, 1)
        await heard.wait(lambda: heard.errors)
    finally:
        await recognizer.aclose()

    assert heard.errors[0][0] == 1
    assert isinstance(heard.errors[0][1], ProviderError)


async def test_a_dropped_deepgram_stream_fails_the_turn_and_recovers_for_the_next(
    make_hub: HubFactory, deepgram_fake: Served
) -> None:
    deepgram_fake.fake.drop_after_s = 0.3
    deepgram_fake.fake.transcripts = ["second try"]
    heard = Heard()
    recognizer = deepgram_hub(make_hub, deepgram_fake).recognizer(  # type: ignore[attr-defined]
        ["deepgram"], keyterms=[], language="en"
    )(heard)
    try:
        await say(recognizer, 1)
        await heard.wait(lambda: heard.errors)
        await say(recognizer, 2, seconds=0.5)
        await heard.wait(lambda: heard.finals())
    finally:
        await recognizer.aclose()

    assert [u for u, _ in heard.errors] == [1]
    assert heard.finals() == [(2, "second try")]


async def test_openai_compatible_transcription_once_per_turn(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    openai_fake.fake.transcripts = ["what time do you close"]
    hub = make_hub({"OPENAI_API_KEY": openai_fake.fake.key}, openai_stt_url=openai_fake.url + "/v1")
    heard = Heard()
    recognizer = hub.recognizer(
        ["openai-stt:whisper-large"], keyterms=["close", "open"], language="en-US"
    )(heard)
    try:
        await say(recognizer, 4, seconds=0.8)
        await heard.wait(lambda: heard.finals())
    finally:
        await recognizer.aclose()

    assert heard.finals() == [(4, "what time do you close")]
    [sent] = openai_fake.fake.requests
    assert sent["model"] == "whisper-large" and sent["language"] == "en"
    assert sent["prompt"] == "close, open"
    assert sent["bytes"] == 44 + 2 * 16000 * 0.8  # a WAV of the whole utterance


async def test_recognition_falls_back_within_the_same_turn(
    make_hub: HubFactory, deepgram_fake: Served, openai_fake: Served
) -> None:
    openai_fake.fake.transcripts = ["recovered"]
    hub = make_hub(
        {"DEEPGRAM_API_KEY": "wrong", "OPENAI_API_KEY": openai_fake.fake.key},
        deepgram_url=deepgram_fake.url,
        openai_stt_url=openai_fake.url + "/v1",
    )
    heard = Heard()
    recognizer = hub.recognizer(["deepgram", "openai-stt"], keyterms=[], language="en")(heard)
    try:
        await say(recognizer, 1, seconds=0.5)
        await heard.wait(lambda: heard.finals())
    finally:
        await recognizer.aclose()

    assert heard.errors == [], "the failure was absorbed by the chain"
    assert heard.finals() == [(1, "recovered")]
    assert openai_fake.fake.requests[0]["bytes"] == 44 + 2 * 16000 * 0.5


async def _speak(synthesizer: SpeechSynthesizer, text: str = "Hello there.") -> np.ndarray:
    chunks = [chunk.samples async for chunk in synthesizer.synthesize(text)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


async def test_openai_compatible_speech_streams_pcm(
    make_hub: HubFactory, openai_fake: Served
) -> None:
    hub = make_hub({"OPENAI_API_KEY": openai_fake.fake.key}, openai_tts_url=openai_fake.url + "/v1")
    synthesizer = hub.synthesizer(
        ["openai-tts:gpt-4o-mini-tts/nova"], voice_id="default", language="en"
    )

    audio = await _speak(synthesizer)

    assert synthesizer.sample_rate == 24000
    assert audio.size == 12000  # 0.5 s, reassembled from odd-sized chunks
    assert np.abs(audio).max() > 5000
    [sent] = openai_fake.fake.requests
    assert sent == {
        "model": "gpt-4o-mini-tts",
        "voice": "nova",
        "input": "Hello there.",
        "response_format": "pcm",
    }


async def test_deepgram_aura_and_elevenlabs_stream_pcm(
    make_hub: HubFactory, deepgram_fake: Served, elevenlabs_fake: Served
) -> None:
    hub = make_hub(
        {
            "DEEPGRAM_API_KEY": deepgram_fake.fake.key,
            "ELEVENLABS_API_KEY": elevenlabs_fake.fake.key,
        },
        deepgram_url=deepgram_fake.url,
        elevenlabs_url=elevenlabs_fake.url,
    )

    aura = await _speak(
        hub.synthesizer(["deepgram-tts:aura-2-thalia-en"], voice_id="default", language="en")
    )
    eleven = await _speak(
        hub.synthesizer(["elevenlabs:voice123"], voice_id="default", language="en")
    )

    assert aura.size == eleven.size == 12000
    [speak] = deepgram_fake.fake.speak_requests
    assert speak["query"] == {
        "model": "aura-2-thalia-en",
        "encoding": "linear16",
        "sample_rate": "24000",
        "container": "none",
    }
    assert speak["body"] == {"text": "Hello there."}
    [stream] = elevenlabs_fake.fake.requests
    assert stream["voice"] == "voice123" and stream["query"] == {"output_format": "pcm_24000"}
    assert stream["body"] == {"text": "Hello there.", "model_id": "eleven_flash_v2_5"}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("http", status=500),
        Fault("http", status=401),
        Fault("http", status=429, retry_after=9),
    ],
)
async def test_a_failing_synthesiser_gives_way_to_the_next(
    make_hub: HubFactory, deepgram_fake: Served, elevenlabs_fake: Served, fault: Fault
) -> None:
    elevenlabs_fake.fake.script = [fault]
    hub = make_hub(
        {
            "DEEPGRAM_API_KEY": deepgram_fake.fake.key,
            "ELEVENLABS_API_KEY": elevenlabs_fake.fake.key,
        },
        deepgram_url=deepgram_fake.url,
        elevenlabs_url=elevenlabs_fake.url,
    )
    synthesizer = hub.synthesizer(
        ["elevenlabs:v", "deepgram-tts"], voice_id="default", language="en"
    )

    audio = await _speak(synthesizer)

    assert audio.size == 12000
    assert len(deepgram_fake.fake.speak_requests) == 1


async def test_the_last_synthesiser_failing_is_an_error(
    make_hub: HubFactory, elevenlabs_fake: Served
) -> None:
    elevenlabs_fake.fake.script = [Fault("http", status=503)]
    hub = make_hub(
        {"ELEVENLABS_API_KEY": elevenlabs_fake.fake.key}, elevenlabs_url=elevenlabs_fake.url
    )

    with pytest.raises(ProviderError, match="HTTP 503"):
        await _speak(hub.synthesizer(["elevenlabs:v"], voice_id="default", language="en"))


@pytest.mark.parametrize(
    ("role", "specs", "variable"),
    [
        ("stt", ["deepgram"], "DEEPGRAM_API_KEY"),
        ("tts", ["elevenlabs:v"], "ELEVENLABS_API_KEY"),
        ("tts", ["deepgram-tts"], "DEEPGRAM_API_KEY"),
        ("tts", ["openai-tts"], "OPENAI_API_KEY"),
    ],
)
def test_speech_providers_without_credentials_are_unavailable(
    make_hub: HubFactory, role: str, specs: Sequence[str], variable: str
) -> None:
    hub = make_hub({})

    def build() -> object:
        if role == "stt":
            return hub.recognizer(specs, keyterms=[], language="en")
        return hub.synthesizer(specs, voice_id="default", language="en")

    with pytest.raises(ProviderUnavailable, match=variable):
        build()

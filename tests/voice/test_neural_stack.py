"""The neural embedded stack's providers on their real models: Whisper hears open speech,
speculates at pauses and falls back when saturated; Piper speaks with word timings and
stops when told."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parley.audio.g711 import pcm_to_ulaw
from parley.audio.pcm import Int16Array
from parley.audio.resample import Resampler
from parley.bench import corpus
from parley.bench.wer import normalise, word_error_rate
from parley.client import ParleyClient, VoiceClient
from parley.providers.base import RecognitionListener, SpeechRecognizer, Transcription
from parley.providers.stt.whisper import WhisperRecognizer
from parley.providers.stt.whisper_decoder import Priority, WhisperDecoder, without_repeats
from parley.providers.tts.espeak import EspeakEngine
from parley.providers.tts.piper import PiperEngine
from parley.server.runner import serving
from tests.voice.conftest import KEY, Server, collect, server_settings

OPEN_SPEECH = "hello my name is alex and i need some help"


class Heard(RecognitionListener):
    def __init__(self) -> None:
        self.results: list[Transcription] = []
        self.arrived = asyncio.Event()

    def on_transcription(self, result: Transcription) -> None:
        self.results.append(result)
        self.arrived.set()

    def on_recognition_error(self, utterance: int, error: Exception) -> None:
        raise AssertionError(f"recognition failed: {error}")

    async def final(self, within: float = 10) -> Transcription:
        async with asyncio.timeout(within):
            while not any(r.final for r in self.results):
                self.arrived.clear()
                await self.arrived.wait()
        return next(r for r in self.results if r.final)


@pytest.fixture(scope="module")
def decoder() -> WhisperDecoder:
    decoder = WhisperDecoder(WhisperDecoder.locate(None), threads=2)
    decoder.warm()
    return decoder


async def _said(text: str) -> Int16Array:
    return await corpus.speak(EspeakEngine.shared().synthesizer("en-us"), text, seed=1)


async def test_whisper_understands_open_speech_no_keyterms(decoder: WhisperDecoder) -> None:
    text = await asyncio.to_thread(decoder.transcribe, await _said(OPEN_SPEECH))
    assert word_error_rate(OPEN_SPEECH, text) <= 0.2, text


async def test_a_speculation_at_the_pause_is_the_final_when_the_turn_ends(
    decoder: WhisperDecoder,
) -> None:
    heard = Heard()
    recognizer = WhisperRecognizer(listener=heard, decoder=decoder)
    recognizer.begin(1)
    recognizer.feed(await _said(OPEN_SPEECH))
    recognizer.pause()
    await asyncio.sleep(1.0)  # the speculation is done before the endpoint
    said_so_far = heard.results[-1]  # … and told as the words so far, for the end of turn
    assert not said_so_far.final and word_error_rate(OPEN_SPEECH, said_so_far.text) <= 0.2
    recognizer.finish()
    await asyncio.sleep(0)  # delivered at once, no second decode
    finals = [r for r in heard.results if r.final]
    assert len(finals) == 1  # (a partial may have come while the audio was fed)
    assert word_error_rate(OPEN_SPEECH, finals[0].text) <= 0.2


async def test_speech_after_a_pause_is_not_lost_to_the_speculation(
    decoder: WhisperDecoder,
) -> None:
    heard = Heard()
    recognizer = WhisperRecognizer(listener=heard, decoder=decoder)
    recognizer.begin(1)
    recognizer.feed(await _said("i would like to check"))
    recognizer.pause()
    await asyncio.sleep(0.5)
    recognizer.resume()
    recognizer.feed(await _said("the status of my order"))
    recognizer.pause()
    recognizer.finish()
    final = await heard.final()
    assert "order" in normalise(final.text), final.text


class _Saturated:
    """A decoder with no room: every decode is refused, as a full pool refuses it."""

    def submit(
        self, audio: Int16Array, keyterms: tuple[str, ...], priority: Priority, refusable: bool
    ) -> None:
        assert refusable  # there is a fallback
        return None


class _Light(SpeechRecognizer):
    def __init__(self, listener: RecognitionListener) -> None:
        self.listener, self.samples, self.utterance = listener, 0, 0

    def begin(self, utterance: int) -> None:
        self.utterance = utterance

    def feed(self, samples: Int16Array) -> None:
        self.samples += samples.size

    def finish(self) -> None:
        self.listener.on_transcription(Transcription(self.utterance, "light", final=True))

    def abandon(self) -> None:
        pass


async def test_a_saturated_decoder_hands_the_turn_to_the_fallback_with_its_audio() -> None:
    heard, built = Heard(), []

    def light(listener: RecognitionListener) -> SpeechRecognizer:
        built.append(_Light(listener))
        return built[-1]

    recognizer = WhisperRecognizer(listener=heard, decoder=_Saturated(), fallback=light)  # type: ignore[arg-type]
    recognizer.begin(7)
    recognizer.feed(np.ones(16000, dtype=np.int16))
    recognizer.finish()
    final = await heard.final()
    assert (final.utterance, final.text, final.fallback) == (7, "light", True)
    assert built[0].samples == 16000  # the whole utterance went to the fallback


def test_the_pool_refuses_what_it_could_not_start_in_time_and_partials_when_busy() -> None:
    decoder = WhisperDecoder(WhisperDecoder.locate(None), threads=1, max_wait_s=0.2)
    try:
        decoder.warm()
        audio = np.zeros(16000 * 3, dtype=np.int16)
        accepted: list[Future[str] | None] = [
            decoder.submit(audio, (), Priority.FINAL) for _ in range(20)
        ]
        assert accepted[0] is not None and None in accepted  # a queue, then refusals
        assert decoder.submit(audio, (), Priority.PARTIAL) is None
        for future in accepted:
            if future is not None:
                future.result(timeout=30)
    finally:
        decoder.close()


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine.shared(PiperEngine.locate(None))
    engine.warm()
    return engine


async def test_piper_speaks_each_word_at_an_increasing_time(piper: PiperEngine) -> None:
    text = "Sure, I can book a table for four."
    chunks = [chunk async for chunk in piper.synthesizer().synthesize(text)]
    samples = np.concatenate([c.samples for c in chunks])
    marks = [m for c in chunks for m in c.marks]
    assert piper.sample_rate == 22050 and samples.size > 22050  # over a second of speech
    assert [text[m.start : m.end] for m in marks] == text.split()
    times = [m.at_ms for m in marks]
    assert times == sorted(times) and times[-1] < samples.size * 1000 / 22050


async def test_piper_heard_back_by_whisper(piper: PiperEngine, decoder: WhisperDecoder) -> None:
    speech = await corpus.speak(piper.synthesizer(), OPEN_SPEECH, seed=2)
    text = await asyncio.to_thread(decoder.transcribe, speech)
    assert word_error_rate(OPEN_SPEECH, text) <= 0.2, text


async def test_closing_the_stream_stops_piper_before_the_next_sentence(
    piper: PiperEngine,
) -> None:
    stream: Any = piper.synthesizer().synthesize("One. Two. Three. Four. Five. Six.")
    first = await anext(stream)
    await stream.aclose()
    assert first.samples.size > 0
    # the engine is free again at once: a new job is not stuck behind the aborted one
    async with asyncio.timeout(5):
        assert [c async for c in piper.synthesizer().synthesize("Next.")]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer"),
    [
        ("please book a table for four at seven thirty", "Please book a table for 4 at 7.30.", 0),
        ("twenty one", "21", 0),
        ("the city centre", "The city center?", 0),
        ("i need help", "I need", 1 / 3),
        ("", "", 0),
    ],
)
def test_word_error_rate_is_not_fooled_by_how_words_are_written(
    reference: str, hypothesis: str, wer: float
) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)


class _Stuck:
    """A decoder that accepts decodes and never starts them (a queue slower than promised)."""

    max_wait_s = 0.05

    def __init__(self) -> None:
        self.accepted: list[Future[str]] = []

    def submit(
        self, audio: Int16Array, keyterms: tuple[str, ...], priority: Priority, refusable: bool
    ) -> Future[str]:
        self.accepted.append(Future())
        return self.accepted[-1]


async def test_a_decode_that_has_not_started_in_time_is_withdrawn_for_the_fallback() -> None:
    heard, stuck = Heard(), _Stuck()
    recognizer = WhisperRecognizer(listener=heard, decoder=stuck, fallback=_Light)  # type: ignore[arg-type]
    recognizer.begin(3)
    recognizer.feed(np.ones(8000, dtype=np.int16))
    recognizer.pause()  # a speculation, accepted and stuck
    recognizer.finish()
    final = await heard.final(within=2)
    assert (final.utterance, final.fallback) == (3, True)
    assert all(future.cancelled() for future in stuck.accepted)


class _Manual(_Stuck):
    """A decoder whose decodes start at once and finish when the test says."""

    def submit(
        self, audio: Int16Array, keyterms: tuple[str, ...], priority: Priority, refusable: bool
    ) -> Future[str]:
        future = super().submit(audio, keyterms, priority, refusable)
        future.set_running_or_notify_cancel()  # running: too late to cancel
        return future


async def test_a_partial_of_the_speech_before_a_pause_is_not_told_as_the_pauses_words() -> None:
    heard, manual = Heard(), _Manual()
    recognizer = WhisperRecognizer(listener=heard, decoder=manual, partial_every_s=0.5)  # type: ignore[arg-type]
    recognizer.begin(1)
    recognizer.feed(np.ones(8000, dtype=np.int16))  # a partial decode starts
    recognizer.feed(np.ones(4000, dtype=np.int16))
    recognizer.pause()  # the speculation decodes all of it
    partial, speculation = manual.accepted
    speculation.set_result("I want to order the")
    partial.set_result("I want to order.")  # older audio, finished later
    for _ in range(3):
        await asyncio.sleep(0)
    assert [r.text for r in heard.results] == ["I want to order the"]


async def test_a_phone_call_in_8_khz_mulaw_is_understood(
    tmp_path: Path, piper: PiperEngine
) -> None:
    """The telephony path: μ-law at 8 kHz in, resampled for Whisper, μ-law back out."""
    said = "could you move my appointment to thursday morning"
    narrow = corpus.telephone(await corpus.speak(piper.synthesizer(), said, seed=4))
    line = pcm_to_ulaw(Resampler(16000, 8000, "HQ").process(narrow)) + b"\xff" * 8000 * 2
    settings = server_settings(tmp_path)  # the defaults: Silero, Whisper, Piper
    async with serving(settings) as base, ParleyClient(base, KEY) as rest:
        url, _ = await Server(base, rest, settings).session_url(greeting="Hello.")
        start = {
            "binary_audio": True,
            "audio": {
                "input": {"encoding": "mulaw", "sample_rate": 8000},
                "output": {"encoding": "mulaw", "sample_rate": 8000},
            },
        }
        async with VoiceClient.connect(url, start=start) as call:
            loop = asyncio.get_running_loop()
            begun = loop.time()
            for index, offset in enumerate(range(0, len(line), 160)):  # 20 ms frames
                await call.send_audio(line[offset : offset + 160])
                await asyncio.sleep(max(0.0, begun + (index + 1) * 0.02 - loop.time()))
            messages = await collect(
                call,
                lambda m: (
                    m["type"] == "transcript"
                    and m["payload"]["role"] == "agent"
                    and m["payload"]["text"].startswith("You said")
                ),
                within=20,
            )
    heard = [m["payload"]["text"] for m in messages if _final_user(m)]
    assert heard and word_error_rate(said, heard[0]) <= 0.15, heard
    assert any(m["type"] == "audio" for m in messages)


def _final_user(message: Any) -> bool:
    return bool(
        message["type"] == "transcript"
        and message["payload"]["role"] == "user"
        and message["payload"]["final"]
    )


@pytest.mark.parametrize(
    ("decoded", "kept"),
    [
        ("We are out of milk. We are out of milk.", "We are out of milk."),
        (
            "can i get a small cheese pizza, can i get a small cheese pizza,",
            "can i get a small cheese pizza,",
        ),
        ("I think that I think that I am mistaken", "I think that I think that I am mistaken"),
        ("no no no", "no no no"),
    ],
)
def test_whisper_loops_at_the_end_of_a_transcript_are_cut(decoded: str, kept: str) -> None:
    assert without_repeats(decoded) == kept

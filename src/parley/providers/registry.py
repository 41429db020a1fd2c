"""Choosing providers by spec string, and the process-wide resources behind them.

`check_spec` validates a spec for a role (unknown family or bad arguments: ValueError with
a message for the API's 422). `ProviderHub` is created once per server process: it owns the
shared, expensive parts (the Silero batching worker, the espeak thread, the recognition
thread pool, the domain-LM cache) and makes the per-session provider objects.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from parley.providers.base import (
    LanguageModel,
    RecognitionListener,
    SpeechRecognizer,
    SpeechSynthesizer,
    VoiceActivityDetector,
)
from parley.providers.fakes import (
    FakeModel,
    FakeRecognizer,
    FakeSynthesizer,
    ToneShape,
    parse_options,
)
from parley.providers.specs import ProviderSpec, parse_spec
from parley.providers.stt import domain_lm
from parley.providers.stt.pocketsphinx import PocketsphinxRecognizer
from parley.providers.tts.espeak import EspeakEngine
from parley.providers.vad.fake import LoudnessDetector
from parley.providers.vad.silero import SileroService
from parley.providers.vad.webrtc import WebRtcDetector

log = logging.getLogger("parley.providers")

Role = Literal["vad", "stt", "llm", "tts"]

FAMILIES: dict[Role, dict[str, str]] = {
    "vad": {
        "silero": "Silero VAD v5 (ONNX, embedded)",
        "webrtc": "WebRTC VAD (embedded; argument: aggressiveness 0-3)",
        "fake-vad": "loudness threshold (tests)",
    },
    "stt": {
        "pocketsphinx": "pocketsphinx, offline (embedded)",
        "fake-stt": "scripted transcript after a delay (tests, benchmark)",
    },
    "llm": {
        "echo": "repeats the caller; calls a tool the caller names (embedded stand-in)",
        "fake-llm": "scripted tokens after a delay (tests, benchmark)",
    },
    "tts": {
        "espeak": "espeak-ng, offline (embedded)",
        "fake-tts": "a tone after a delay (tests, benchmark)",
    },
}

_FAKE_OPTIONS = {
    "fake-stt": FakeRecognizer.OPTIONS,
    "fake-llm": FakeModel.OPTIONS,
    "fake-tts": FakeSynthesizer.OPTIONS,
    "fake-vad": ("threshold",),
}


def check_spec(role: Role, text: str) -> ProviderSpec:
    spec = parse_spec(text)
    families = FAMILIES[role]
    if spec.family not in families:
        raise ValueError(
            f"unknown {role} provider {spec.family!r} (available: {', '.join(families)})"
        )
    if spec.family in _FAKE_OPTIONS:
        parse_options(spec.argument, _FAKE_OPTIONS[spec.family])
    elif spec.family == "webrtc" and spec.argument not in (None, "0", "1", "2", "3"):
        raise ValueError("webrtc takes an aggressiveness from 0 to 3, e.g. 'webrtc:3'")
    elif spec.family in ("silero", "pocketsphinx", "echo") and spec.argument:
        raise ValueError(f"{spec.family} takes no argument")
    return spec


def espeak_voice(voice_id: str, language: str) -> str:
    """An agent's `voice_id` as an espeak voice: `default` means the language's own."""
    if voice_id and voice_id != "default":
        return voice_id
    return {"en": "en-us"}.get(language.lower(), language.lower())


class ProviderHub:
    def __init__(self, cache_dir: Path, recognition_threads: int = 2) -> None:
        self.cache_dir = cache_dir
        self._recognition_pool = ThreadPoolExecutor(
            recognition_threads, thread_name_prefix="parley-stt"
        )
        self._silero: SileroService | None = None
        self._espeak: EspeakEngine | None = None

    def warm(self, specs: list[tuple[Role, str]]) -> None:
        """Load shared models the given defaults need (blocking; call it off the loop)."""
        for role, text in specs:
            family = parse_spec(text).family
            if role == "vad" and family == "silero":
                self._silero_service()
            elif role == "tts" and family == "espeak":
                self._espeak_engine().warm()
            elif role == "stt" and family == "pocketsphinx":
                domain_lm.pronunciations()

    def vad(self, text: str) -> VoiceActivityDetector:
        spec = check_spec("vad", text)
        if spec.family == "silero":
            return self._silero_service().detector(asyncio.get_running_loop())
        if spec.family == "webrtc":
            return WebRtcDetector(int(spec.argument or 3))
        options = parse_options(spec.argument, ("threshold",))
        return LoudnessDetector(threshold=options.get("threshold", 300.0))

    def recognizer(
        self, text: str, listener: RecognitionListener, *, keyterms: list[str]
    ) -> SpeechRecognizer:
        spec = check_spec("stt", text)
        if spec.family == "pocketsphinx":
            return PocketsphinxRecognizer(
                listener=listener,
                executor=self._recognition_pool,
                keyterms=keyterms,
                cache_dir=self.cache_dir / "pocketsphinx",
            )
        options = parse_options(spec.argument, FakeRecognizer.OPTIONS)
        return FakeRecognizer(listener, delay_ms=options.get("delay", 100.0))

    def language_model(self, text: str) -> LanguageModel:
        spec = check_spec("llm", text)
        if spec.family == "echo":
            from parley.providers.llm.echo import EchoModel

            return EchoModel()
        options = parse_options(spec.argument, FakeModel.OPTIONS)
        return FakeModel(
            ttft_ms=options.get("ttft", 200.0),
            gap_ms=options.get("gap", 5.0),
            tokens=int(options.get("tokens", 20)),
        )

    def synthesizer(self, text: str, *, voice_id: str, language: str) -> SpeechSynthesizer:
        spec = check_spec("tts", text)
        if spec.family == "espeak":
            return self._espeak_engine().synthesizer(espeak_voice(voice_id, language))
        options = parse_options(spec.argument, FakeSynthesizer.OPTIONS)
        return FakeSynthesizer(
            ToneShape(
                delay_ms=options.get("delay", 100.0),
                seconds=options.get("seconds", 1.0),
                word_ms=options.get("word_ms"),
            )
        )

    def close(self) -> None:
        """Stop this hub's workers (the shared espeak engine lives as long as the process)."""
        if self._silero is not None:
            self._silero.close()
        self._recognition_pool.shutdown(wait=False, cancel_futures=True)

    def _silero_service(self) -> SileroService:
        if self._silero is None:
            self._silero = SileroService()
        return self._silero

    def _espeak_engine(self) -> EspeakEngine:
        if self._espeak is None:
            self._espeak = EspeakEngine.shared()
        return self._espeak

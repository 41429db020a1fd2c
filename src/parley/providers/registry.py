"""Every provider family Parley can build, by role, in one table: adding a provider is one
`Family` entry here (a language model's: in `llm/families.py`) and the provider's own module.

An entry says what its spec argument may be (`check_spec` validates agent definitions
against it: an unknown family or a bad argument is a `ValueError`, shown to the client as a
422) and how to build it from the hub's shared resources (`build`). Optional SDKs are
imported inside the builders, so a missing extra only matters to agents that name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley.providers import voices
from parley.providers.base import RecognitionListener
from parley.providers.fakes import FakeRecognizer, FakeSynthesizer, ToneShape, parse_options
from parley.providers.family import Family, Role, Wants, on_disk
from parley.providers.llm.families import LANGUAGE_MODELS
from parley.providers.specs import ProviderSpec, parse_spec
from parley.providers.stt.whisper_decoder import WhisperDecoder
from parley.providers.tts.piper import PiperEngine

if TYPE_CHECKING:
    from parley.providers.hub import ProviderHub

__all__ = ["Family", "Role", "Wants", "check_spec", "families", "family"]


# Voice activity detection -------------------------------------------------------------------


def _silero(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    import asyncio

    return hub.silero_service().detector(asyncio.get_running_loop())


def _warm_silero(hub: ProviderHub, spec: ProviderSpec) -> None:
    hub.silero_service()  # starts the worker and loads the model


def _webrtc(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.vad.webrtc import WebRtcDetector

    return WebRtcDetector(int(spec.argument or 3))


def _check_webrtc(argument: str | None) -> None:
    if argument not in (None, "0", "1", "2", "3"):
        raise ValueError("webrtc takes an aggressiveness from 0 to 3, e.g. 'webrtc:3'")


def _loudness(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.vad.fake import LoudnessDetector

    options = parse_options(spec.argument, ("threshold",))
    return LoudnessDetector(threshold=options.get("threshold", 300.0))


# Speech recognition (builders return a factory: one recogniser per conversation) ------------


def _pocketsphinx(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.stt.pocketsphinx import PocketsphinxRecognizer

    pool, cache, keyterms = hub.recognition_pool, hub.cache_dir / "pocketsphinx", wants.keyterms
    return lambda listener: PocketsphinxRecognizer(
        listener=listener, executor=pool, keyterms=list(keyterms), cache_dir=cache
    )


def _warm_pocketsphinx(hub: ProviderHub, spec: ProviderSpec) -> None:
    from parley.providers.stt import domain_lm

    domain_lm.pronunciations()


def _whisper(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.stt.whisper import WhisperRecognizer

    decoder, keyterms = hub.whisper_decoder(spec.argument), wants.keyterms
    fallback, partial_s = hub.overload_fallback(wants), hub.settings.whisper_partial_ms / 1000
    return lambda listener: WhisperRecognizer(
        listener=listener,
        decoder=decoder,
        keyterms=keyterms,
        fallback=fallback,
        partial_every_s=partial_s,
    )


def _warm_whisper(hub: ProviderHub, spec: ProviderSpec) -> None:
    hub.whisper_decoder(spec.argument).warm()
    if hub.fallback_spec == "pocketsphinx-batch":
        hub.shared_pocketsphinx().decoder(())  # the generic model a fallback turn uses


def _pocketsphinx_batch(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.stt.pocketsphinx import BatchPocketsphinxRecognizer

    pool, decoders, keyterms = hub.recognition_pool, hub.shared_pocketsphinx(), wants.keyterms
    return lambda listener: BatchPocketsphinxRecognizer(
        listener=listener, executor=pool, decoders=decoders, keyterms=keyterms
    )


def _deepgram_stt(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.stt.deepgram import DeepgramRecognizer, listen_url

    key = hub.key("DEEPGRAM_API_KEY", "deepgram")
    url = listen_url(
        hub.settings.deepgram_url, spec.argument or "nova-3", wants.language, list(wants.keyterms)
    )
    return lambda listener: DeepgramRecognizer(listener, url=url, api_key=key)


def _openai_stt(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.stt.openai_transcribe import OpenAITranscriber

    client = hub.openai_client(hub.settings.openai_stt_url)
    model, language, keyterms = spec.argument or "whisper-1", wants.language, list(wants.keyterms)
    return lambda listener: OpenAITranscriber(
        listener, client=client, model=model, language=language, keyterms=keyterms
    )


def _fake_stt(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    delay = parse_options(spec.argument, FakeRecognizer.OPTIONS).get("delay", 100.0)

    def build(listener: RecognitionListener) -> FakeRecognizer:
        return FakeRecognizer(listener, delay_ms=delay)

    return build


# Speech synthesis ----------------------------------------------------------------------------


def espeak_voice(voice_id: str, language: str) -> str:
    """An agent's `voice_id` as an espeak voice: `default` means the language's own."""
    if voice_id and voice_id != "default":
        return voice_id
    return {"en": "en-us"}.get(language.lower(), language.lower())


def _espeak(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    return hub.espeak_engine().synthesizer(espeak_voice(wants.voice_id, wants.language))


def _piper(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    """The bundled Piper voice, the `.onnx` in the argument, in `voice_id` or named by it in
    `<data_dir>/voices/`; any other `voice_id` names an espeak voice, so agents made for
    espeak keep their voices."""
    voice = wants.chosen_voice
    if spec.argument is None and voice is not None and voice not in voices.PIPER_BUNDLED:
        on_disk = voices.piper_voice_path(hub.settings.data_dir, voice)
        if on_disk is not None:
            return hub.piper_engine(str(on_disk)).synthesizer()
        if not voice.endswith(".onnx"):
            return _espeak(hub, spec, wants)
        return hub.piper_engine(voice).synthesizer()
    return hub.piper_engine(spec.argument).synthesizer()


def _warm_piper(hub: ProviderHub, spec: ProviderSpec) -> None:
    hub.piper_engine(spec.argument).warm()


def _openai_tts(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.tts.streaming import OpenAISpeechSynthesizer

    model, _, voice = (spec.argument or "tts-1").partition("/")
    client = hub.openai_client(hub.settings.openai_tts_url)
    return OpenAISpeechSynthesizer(client, model, voice or wants.chosen_voice or "alloy")


def _deepgram_tts(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.tts.streaming import HttpPcmSynthesizer

    key = hub.key("DEEPGRAM_API_KEY", "deepgram-tts")
    model = spec.argument or wants.chosen_voice or "aura-2-thalia-en"
    url = (
        f"{hub.settings.deepgram_url.rstrip('/')}/v1/speak?model={model}"
        "&encoding=linear16&sample_rate=24000&container=none"
    )
    return HttpPcmSynthesizer(
        hub.http,
        name=f"deepgram-tts:{model}",
        url=url,
        headers={"Authorization": f"Token {key}"},
        body={},
    )


def _elevenlabs(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.tts.streaming import HttpPcmSynthesizer

    key = hub.key("ELEVENLABS_API_KEY", "elevenlabs")
    chosen = spec.argument or wants.chosen_voice or "21m00Tcm4TlvDq8ikWAM"
    voice, _, model = chosen.partition("/")
    url = (
        f"{hub.settings.elevenlabs_url.rstrip('/')}/v1/text-to-speech/{voice}"
        "/stream?output_format=pcm_24000"
    )
    return HttpPcmSynthesizer(
        hub.http,
        name=f"elevenlabs:{voice}",
        url=url,
        headers={"xi-api-key": key},
        body={"model_id": model or "eleven_flash_v2_5"},
    )


def _fake_tts(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    options = parse_options(spec.argument, FakeSynthesizer.OPTIONS)
    return FakeSynthesizer(
        ToneShape(
            delay_ms=options.get("delay", 100.0),
            seconds=options.get("seconds", 1.0),
            word_ms=options.get("word_ms"),
        )
    )


# Text embedding (knowledge search) --------------------------------------------------------


def _openai_embed(hub: ProviderHub, spec: ProviderSpec, wants: Wants) -> Any:
    from parley.providers.embed.openai_embed import OpenAIEmbedder

    client = hub.openai_client(hub.settings.embeddings_url)
    return OpenAIEmbedder(client, spec.argument or "", timeout=hub.settings.llm_timeout * 4)


# The table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    families: dict[tuple[Role, str], Family] = field(default_factory=dict)

    def add(self, *families: Family) -> None:
        for family in families:
            self.families[(family.role, family.name)] = family


FAMILIES = _Table()
FAMILIES.add(
    Family(
        "vad",
        "silero",
        "Silero VAD v5 (ONNX, embedded)",
        _silero,
        "none",
        warm=_warm_silero,
    ),
    Family(
        "vad",
        "webrtc",
        "WebRTC VAD (embedded; argument: aggressiveness 0-3)",
        _webrtc,
        check=_check_webrtc,
    ),
    Family("vad", "fake-vad", "loudness threshold (tests)", _loudness, options=("threshold",)),
    Family(
        "stt",
        "pocketsphinx",
        "pocketsphinx, offline (embedded)",
        _pocketsphinx,
        "none",
        warm=_warm_pocketsphinx,
    ),
    Family(
        "stt",
        "whisper",
        "Whisper, offline (embedded tiny.en; argument: a model directory or a downloaded "
        "faster-whisper model name, e.g. small.en)",
        _whisper,
        check=on_disk(WhisperDecoder.locate),
        warm=_warm_whisper,
    ),
    Family(
        "stt",
        "pocketsphinx-batch",
        "pocketsphinx on whole utterances, decoders shared by all sessions (the overload fallback)",
        _pocketsphinx_batch,
        "none",
    ),
    Family(
        "stt", "deepgram", "Deepgram streaming (argument: model, default nova-3)", _deepgram_stt
    ),
    Family(
        "stt",
        "openai-stt",
        "any OpenAI-compatible /v1/audio/transcriptions (argument: model)",
        _openai_stt,
    ),
    Family(
        "stt",
        "fake-stt",
        "scripted transcript after a delay (tests, benchmark)",
        _fake_stt,
        options=FakeRecognizer.OPTIONS,
    ),
    *LANGUAGE_MODELS,
    Family(
        "tts",
        "espeak",
        "espeak-ng, offline (embedded)",
        _espeak,
        "none",
        warm=lambda hub, spec: hub.espeak_engine().warm(),
        voices=lambda data_dir, spec: voices.espeak(),
    ),
    Family(
        "tts",
        "piper",
        "Piper neural voices, offline (embedded en_US-joe-medium; argument: a voice .onnx)",
        _piper,
        check=on_disk(PiperEngine.locate),
        warm=_warm_piper,
        voices=lambda data_dir, spec: voices.piper(data_dir, spec.argument),
    ),
    Family(
        "tts",
        "openai-tts",
        "any OpenAI-compatible /v1/audio/speech (argument: model/voice)",
        _openai_tts,
        voices=lambda data_dir, spec: voices.openai(),
    ),
    Family(
        "tts",
        "deepgram-tts",
        "Deepgram Aura (argument: model, e.g. aura-2-thalia-en)",
        _deepgram_tts,
    ),
    Family("tts", "elevenlabs", "ElevenLabs streaming (argument: voice id[/model])", _elevenlabs),
    Family(
        "embed",
        "openai-embed",
        "any OpenAI-compatible /v1/embeddings (argument: model, e.g. text-embedding-3-small)",
        _openai_embed,
        "required",
    ),
    Family(
        "tts",
        "fake-tts",
        "a tone after a delay (tests, benchmark)",
        _fake_tts,
        options=FakeSynthesizer.OPTIONS,
    ),
)


def families(role: Role) -> dict[str, str]:
    """The families of a role and what each is, in table order."""
    return {f.name: f.about for (r, _), f in FAMILIES.families.items() if r == role}


def family(role: Role, spec: ProviderSpec) -> Family:
    found = FAMILIES.families.get((role, spec.family))
    if found is None:
        raise ValueError(
            f"unknown {role} provider {spec.family!r} (available: {', '.join(families(role))})"
        )
    return found


def catalogue(text: str, data_dir: Path) -> voices.Catalogue:
    """The voices of a TTS spec (any id is accepted by a TTS that cannot list its own)."""
    spec = parse_spec(text)
    found = family("tts", spec)
    return voices.unlisted(found.name) if found.voices is None else found.voices(data_dir, spec)


def check_spec(role: Role, text: str) -> ProviderSpec:
    spec = parse_spec(text)
    family(role, spec).validate(spec.argument)
    return spec

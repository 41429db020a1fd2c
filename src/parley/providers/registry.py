"""Provider families by role, and what their spec strings must look like.

`check_spec` is what agent creation validates against (unknown family or bad arguments:
`ValueError`, shown to the client as a 422). Building providers is the hub's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from parley.providers.fakes import FakeModel, FakeRecognizer, FakeSynthesizer, parse_options
from parley.providers.specs import ProviderSpec, parse_spec

Role = Literal["vad", "stt", "llm", "tts"]


@dataclass(frozen=True)
class OpenAICompatible:
    """A chat server that speaks OpenAI's API: where it is and which key it wants."""

    base_url: str
    key_env: str | None  # None: no key needed (a local server)
    url_env: str | None = None  # an environment variable that moves it


OPENAI_COMPATIBLE: dict[str, OpenAICompatible] = {
    "openai": OpenAICompatible("https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "ollama": OpenAICompatible("http://localhost:11434/v1", None, "OLLAMA_BASE_URL"),
    "vllm": OpenAICompatible("http://localhost:8000/v1", None, "VLLM_BASE_URL"),
    "llamacpp": OpenAICompatible("http://localhost:8080/v1", None, "LLAMACPP_BASE_URL"),
    "lmstudio": OpenAICompatible("http://localhost:1234/v1", None, "LMSTUDIO_BASE_URL"),
    "groq": OpenAICompatible("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": OpenAICompatible("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "fireworks": OpenAICompatible("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "mistral": OpenAICompatible("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepseek": OpenAICompatible("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "openrouter": OpenAICompatible("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "google": OpenAICompatible(
        "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY"
    ),
}

FAMILIES: dict[Role, dict[str, str]] = {
    "vad": {
        "silero": "Silero VAD v5 (ONNX, embedded)",
        "webrtc": "WebRTC VAD (embedded; argument: aggressiveness 0-3)",
        "fake-vad": "loudness threshold (tests)",
    },
    "stt": {
        "pocketsphinx": "pocketsphinx, offline (embedded)",
        "deepgram": "Deepgram streaming (argument: model, default nova-3)",
        "openai-stt": "any OpenAI-compatible /v1/audio/transcriptions (argument: model)",
        "fake-stt": "scripted transcript after a delay (tests, benchmark)",
    },
    "llm": {
        "echo": "repeats the caller; calls a tool the caller names (embedded stand-in)",
        "anthropic": "Anthropic Messages API (argument: model)",
        **{
            name: f"OpenAI-compatible chat at {entry.base_url} (argument: model)"
            for name, entry in OPENAI_COMPATIBLE.items()
        },
        "fake-llm": "scripted tokens after a delay (tests, benchmark)",
    },
    "tts": {
        "espeak": "espeak-ng, offline (embedded)",
        "openai-tts": "any OpenAI-compatible /v1/audio/speech (argument: model/voice)",
        "deepgram-tts": "Deepgram Aura (argument: model, e.g. aura-2-thalia-en)",
        "elevenlabs": "ElevenLabs streaming (argument: voice id[/model])",
        "fake-tts": "a tone after a delay (tests, benchmark)",
    },
}

_FAKE_OPTIONS = {
    "fake-stt": FakeRecognizer.OPTIONS,
    "fake-llm": FakeModel.OPTIONS,
    "fake-tts": FakeSynthesizer.OPTIONS,
    "fake-vad": ("threshold",),
}
_NO_ARGUMENT = ("silero", "pocketsphinx", "echo", "espeak")
_NEEDS_MODEL = ("anthropic", *OPENAI_COMPATIBLE)


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
    elif spec.family in _NO_ARGUMENT and spec.argument:
        raise ValueError(f"{spec.family} takes no argument")
    elif spec.family in _NEEDS_MODEL and not spec.argument:
        raise ValueError(f"{spec.family} needs a model, e.g. '{spec.family}:<model name>'")
    return spec


def espeak_voice(voice_id: str, language: str) -> str:
    """An agent's `voice_id` as an espeak voice: `default` means the language's own."""
    if voice_id and voice_id != "default":
        return voice_id
    return {"en": "en-us"}.get(language.lower(), language.lower())

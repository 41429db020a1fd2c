"""Deepgram provider objects (`listen`, `think`, `speak`) as Parley provider specs.

Providers Deepgram names map to Parley's (`open_ai` → `openai:<model>`, `eleven_labs` →
`elevenlabs:<voice>/<model>`, …); a `type` that is already a Parley family (`echo`,
`ollama`, `espeak`, …) passes through, which lets self-hosters pick any Parley provider
from an unmodified Deepgram client. Ones Parley does not have become warnings; whether the
server can actually use a spec (credentials) is the host's call, with the same outcome.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from parley.providers.specs import LlmChoice, LlmEndpoint
from parley.validation import describe_errors

_THINK = {"open_ai": "openai", "anthropic": "anthropic", "groq": "groq", "google": "google"}
_UNSUPPORTED_THINK = {"deepgram", "aws_bedrock"}
_UNSUPPORTED_SPEAK = {"cartesia", "aws_polly"}


class InvalidProvider(ValueError):
    """A provider object the client sent is malformed (the message says where)."""


def _items(value: Any, role: str) -> list[dict[str, Any]]:
    """A provider object or a fallback list of them; anything else in it is an error."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise InvalidProvider(f"{role} must be an object or a list of objects")
    return items


def _provider(item: dict[str, Any], role: str) -> dict[str, Any]:
    provider = item.get("provider")
    if provider is None:
        return {}
    if not isinstance(provider, dict):
        raise InvalidProvider(f"{role}.provider must be an object")
    for key in ("type", "model", "voice", "voice_id", "model_id"):
        if provider.get(key) is not None and not isinstance(provider[key], str):
            raise InvalidProvider(f"{role}.provider.{key} must be a string")
    return provider


def _endpoint(value: Any) -> LlmEndpoint | None:
    if value is None or (isinstance(value, dict) and not value.get("url")):
        return None
    if not isinstance(value, dict):
        raise InvalidProvider("think.endpoint must be an object")
    try:
        return LlmEndpoint(url=value["url"], headers=value.get("headers") or {})
    except ValidationError as exc:
        raise InvalidProvider(f"think.endpoint: {describe_errors(exc.errors())}") from None


def _spec(family: str, argument: str | None) -> str:
    return f"{family}:{argument}" if argument else family


def think_choices(value: Any) -> tuple[list[LlmChoice], list[str]]:
    choices: list[LlmChoice] = []
    warnings: list[str] = []
    for item in _items(value, "think"):
        provider = _provider(item, "think")
        kind, model = provider.get("type") or "", provider.get("model")
        if not kind or kind in _UNSUPPORTED_THINK:
            warnings.append(f"think provider {kind[:100] or '(none)'!r} is not available here")
            continue
        choices.append(
            LlmChoice(_spec(_THINK.get(kind, kind), model), _endpoint(item.get("endpoint")))
        )
    return choices, warnings


def listen_specs(provider: Any) -> list[str]:
    if not isinstance(provider, dict) or not provider.get("type"):
        return []
    provider = _provider({"provider": provider}, "listen")
    kind, model = provider["type"], provider.get("model")
    if kind == "deepgram":
        return [_spec("deepgram", model or "nova-3")]
    return [_spec(kind, model)]


def speak_specs(value: Any) -> tuple[list[str], list[str]]:
    specs: list[str] = []
    warnings: list[str] = []
    for item in _items(value, "speak"):
        provider = _provider(item, "speak")
        kind = provider.get("type") or ""
        if kind == "deepgram":
            specs.append(_spec("deepgram-tts", provider.get("model")))
        elif kind == "eleven_labs":
            voice = provider.get("voice_id") or provider.get("voice")
            model = provider.get("model_id")
            specs.append(_spec("elevenlabs", f"{voice}/{model}" if voice and model else voice))
        elif kind == "open_ai":
            model, voice = provider.get("model") or "tts-1", provider.get("voice")
            specs.append(_spec("openai-tts", f"{model}/{voice}" if voice else model))
        elif not kind or kind in _UNSUPPORTED_SPEAK:
            warnings.append(f"speak provider {kind[:100] or '(none)'!r} is not available here")
        else:
            specs.append(_spec(kind, provider.get("model")))
    return specs, warnings

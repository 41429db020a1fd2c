"""Voices: what `GET /v1/voices` lists, and the check an agent's `voice_id` passes.

An agent speaks with the first TTS of its chain (its own `tts`, else the server's
`PARLEY_TTS`); its `voice_id` must be one that TTS offers, or the agent would be saved and
then spoken in the default voice. A TTS that cannot list its voices (a cloud provider's,
a fake's) takes any id: the log says so once per save, since a typo there is only heard.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from parley.config import NEURAL_TTS, Settings
from parley.providers import registry
from parley.providers.specs import parse_spec
from parley.providers.voices import Catalogue
from parley.server.errors import ApiError

log = logging.getLogger("parley.server")

# Cloud TTS families, by the credential that makes them usable on this server.
_CLOUD_KEYS = {
    "openai-tts": "OPENAI_API_KEY",
    "elevenlabs": "ELEVENLABS_API_KEY",
    "deepgram-tts": "DEEPGRAM_API_KEY",
}


def first_tts(choice: str | list[str] | None, settings: Settings) -> str:
    if choice is None:
        return settings.tts
    return choice if isinstance(choice, str) else choice[0]


def check_voice(settings: Settings, tts: str | list[str] | None, voice_id: str) -> None:
    """422 when the agent's TTS lists its voices and `voice_id` is not one of them."""
    spec = first_tts(tts, settings)
    found = registry.catalogue(spec, settings.data_dir)
    if not found.listed:
        log.info("voice %r for %s is taken as given: its voices cannot be listed", voice_id, spec)
        return
    if not found.accepts(voice_id):
        raise ApiError(
            422,
            "invalid_request",
            f"voice_id: {voice_id!r} is not a voice of {found.provider} "
            f"(choose one of: {found.choices()})",
        )


def configured(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The TTS specs this server can speak with: its default, the embedded engines,
    and cloud providers whose credentials it holds."""
    specs = [settings.tts, "espeak"]  # one spec (its argument may hold commas)
    if all(importlib.util.find_spec(module) for module in NEURAL_TTS):
        specs.append("piper")
    specs += [family for family, variable in _CLOUD_KEYS.items() if env.get(variable)]
    return list(dict.fromkeys(specs))


def listing(settings: Settings, env: Mapping[str, str], provider: str | None) -> dict[str, Any]:
    """The body of `GET /v1/voices`: every voice, and what each TTS is."""
    default = parse_spec(settings.tts).family
    providers, voices = [], []
    for spec in configured(settings, env):
        found: Catalogue = registry.catalogue(spec, settings.data_dir)
        family = parse_spec(spec).family
        if provider is not None and family != provider:
            continue
        providers.append(
            {"name": family, "spec": spec, "default": family == default, "listed": found.listed}
        )
        voices += [{**asdict(voice), "tts": family} for voice in found.voices]
    if provider is not None and not providers:
        raise ApiError(404, "not_found", f"no configured TTS {provider!r}")
    return {"data": voices, "providers": providers}

"""Voices: what `GET /v1/voices` lists, and the check an agent's `voice_id` passes.

An agent speaks with the first TTS of its chain (its own `tts`, else the server's
`PARLEY_TTS`); its `voice_id` must be one that TTS offers, or the agent would be saved and
then spoken in the default voice. A TTS that cannot list its voices (a fake's) takes any
id: the log says so once per save, since a typo there is only heard.

ElevenLabs' and Deepgram's voices are asked of the provider (providers/voices_cloud.py),
on the operator's URL with the server's key, through the hub's shared client. The answer
is kept for `FRESH_S` by `CloudVoices` (one per process, on `Services`), so saving agents
and listing voices does not call the provider each time. A provider that does not answer
within `TIMEOUT_S`, or answers wrongly, is unlisted for `FAILED_S`: any id is taken (a
provider outage must not stop agents being saved), one WARNING says why, and it is asked
again once the window is over.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from parley.config import NEURAL_TTS, Settings
from parley.providers import registry
from parley.providers.hub import ProviderHub
from parley.providers.specs import parse_spec
from parley.providers.voices import Catalogue, unlisted
from parley.providers.voices_cloud import SOURCES, CloudSource, VoicesUnavailable
from parley.server.errors import ApiError

log = logging.getLogger("parley.server")

# Cloud TTS families, by the credential that makes them usable on this server.
_CLOUD_KEYS = {
    "openai-tts": "OPENAI_API_KEY",
    "elevenlabs": "ELEVENLABS_API_KEY",
    "deepgram-tts": "DEEPGRAM_API_KEY",
}
TIMEOUT_S = 3.0  # a save waits this long at most for a provider's list
FRESH_S = 600.0  # a provider's list is kept this long
FAILED_S = 30.0  # after a failed fetch, the provider is unlisted (and not asked) this long
MAX_ENTRIES = 16  # (family, url) pairs kept: the URLs are the operator's, so a few at most


@dataclass(frozen=True)
class _Entry:
    catalogue: Catalogue
    expires: float


class CloudVoices:
    """The cloud providers' voice lists, by (family, url), each asked at most once per
    window. Nothing runs in the background: a stale entry is fetched again by the request
    that finds it, and concurrent requests for one provider wait for a single fetch."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def catalogue(self, hub: ProviderHub, source: CloudSource) -> Catalogue:
        url = source.url(hub.settings)
        key = (source.family, url)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock():
                entry = await self._fetch(hub, source, url)
                self._entries.pop(key, None)
                self._entries[key] = entry  # the newest last
                while len(self._entries) > MAX_ENTRIES:
                    oldest = next(iter(self._entries))
                    del self._entries[oldest]
                    self._locks.pop(oldest, None)
        return entry.catalogue

    async def _fetch(self, hub: ProviderHub, source: CloudSource, url: str) -> _Entry:
        api_key = hub.env.get(source.key_variable)
        try:
            if not api_key:
                raise VoicesUnavailable(f"{source.key_variable} is not set")
            found = await source.fetch(hub.http, url, api_key, TIMEOUT_S)
        except VoicesUnavailable as exc:
            log.warning(
                "the voices of %s cannot be listed (%s): any voice_id is taken for it "
                "for the next %.0f s",
                source.family,
                exc,
                FAILED_S,
            )
            return _Entry(unlisted(source.family), self._clock() + FAILED_S)
        return _Entry(found, self._clock() + FRESH_S)


async def catalogue(hub: ProviderHub, cloud: CloudVoices, spec: str) -> Catalogue:
    """The voices of a TTS spec: a cloud provider's as it answers, the others' from disk."""
    source = SOURCES.get(parse_spec(spec).family)
    if source is not None:
        return await cloud.catalogue(hub, source)
    return registry.catalogue(spec, hub.settings.data_dir)


def first_tts(choice: str | list[str] | None, settings: Settings) -> str:
    if choice is None:
        return settings.tts
    return choice if isinstance(choice, str) else choice[0]


async def check_voice(
    hub: ProviderHub, cloud: CloudVoices, tts: str | list[str] | None, voice_id: str
) -> None:
    """422 when the agent's TTS lists its voices and `voice_id` is not one of them."""
    spec = first_tts(tts, hub.settings)
    found = await catalogue(hub, cloud, spec)
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


async def listing(hub: ProviderHub, cloud: CloudVoices, provider: str | None) -> dict[str, Any]:
    """The body of `GET /v1/voices`: every voice, and what each TTS is. Only the providers
    asked for are fetched, and the cloud ones at once (a slow one delays it by one timeout)."""
    default = parse_spec(hub.settings.tts).family
    specs = [
        spec
        for spec in configured(hub.settings, hub.env)
        if provider is None or parse_spec(spec).family == provider
    ]
    found_all = await asyncio.gather(*(catalogue(hub, cloud, spec) for spec in specs))
    providers, voices = [], []
    for spec, found in zip(specs, found_all, strict=True):
        family = parse_spec(spec).family
        providers.append(
            {"name": family, "spec": spec, "default": family == default, "listed": found.listed}
        )
        voices += [{**asdict(voice), "tts": family} for voice in found.voices]
    if provider is not None and not providers:
        raise ApiError(404, "not_found", f"no configured TTS {provider!r}")
    return {"data": voices, "providers": providers}

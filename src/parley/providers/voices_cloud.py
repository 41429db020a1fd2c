"""The voices of the cloud TTS providers, asked of the provider itself.

ElevenLabs' voices are the account's own (premade, cloned, shared ones it added), and
Deepgram adds Aura voices over time, so neither can be a static list like OpenAI's: both
are fetched from the operator's configured endpoint with the server's key.

- ElevenLabs: `GET /v1/voices` (`xi-api-key`) answers `{"voices": [{"voice_id", "name",
  "labels", "category"}, …]}`; an agent's `voice_id` is `<voice id>[/<model>]`.
- Deepgram: `GET /v1/models` (`Authorization: Token`) answers `{"stt": […], "tts":
  [{"name", "canonical_name", "languages", …}, …]}`; the voice id is `canonical_name`.

Anything that keeps a list from being read (no key, the network, a non-2xx status, a body
that is not the documented shape) is a `VoicesUnavailable` with a reason fit for the log
(never the key: it travels in a header, and no response body is quoted). What is done
then, and how long an answer is kept, is the caller's choice (server/voices.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from parley.config import Settings
from parley.providers.voices import Catalogue, Voice


class VoicesUnavailable(Exception):
    """Why a provider's voices could not be listed (the message is the reason)."""


Fetch = Callable[[httpx.AsyncClient, str, str, float], Awaitable[Catalogue]]


@dataclass(frozen=True)
class CloudSource:
    """Where a cloud TTS family's voices come from."""

    family: str
    key_variable: str  # the environment variable holding the server's key
    base_url: Callable[[Settings], str]
    fetch: Fetch

    def url(self, settings: Settings) -> str:
        return self.base_url(settings).rstrip("/")


async def _get_json(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], within_s: float
) -> Any:
    try:
        async with asyncio.timeout(within_s):  # httpx's timeout is per read, not in all
            response = await http.get(url, headers=headers, timeout=within_s)
    except TimeoutError:
        raise VoicesUnavailable(f"no answer from {url} within {within_s:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        detail = f": {exc}" if str(exc) else ""
        raise VoicesUnavailable(f"{type(exc).__name__}{detail} ({url})") from None
    if not response.is_success:
        raise VoicesUnavailable(f"HTTP {response.status_code} from {url}")
    try:
        return response.json()
    except ValueError:
        raise VoicesUnavailable(f"the answer from {url} is not JSON") from None


def _items(body: Any, field: str, url: str) -> list[dict[str, Any]]:
    """The objects of `body[field]`; not a list of any (or an empty one) is unavailable:
    a listing that names no voice would refuse every `voice_id`."""
    found = body.get(field) if isinstance(body, dict) else None
    items = [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []
    if not items:
        raise VoicesUnavailable(f"the answer from {url} lists no voices ({field!r})")
    return items


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _catalogue(provider: str, voices: list[Voice], *, models: bool = False) -> Catalogue:
    """The voices in the provider's order, each id once (a model may be listed per version)."""
    unique: dict[str, Voice] = {}
    for voice in voices:
        unique.setdefault(voice.id, voice)
    return Catalogue(provider, tuple(unique.values()), models=models)


async def elevenlabs(http: httpx.AsyncClient, base: str, key: str, within_s: float) -> Catalogue:
    url = f"{base}/v1/voices"
    body = await _get_json(http, url, {"xi-api-key": key}, within_s)
    voices = []
    for item in _items(body, "voices", url):
        voice_id = _text(item.get("voice_id"))
        if voice_id is None:
            continue
        labels = item.get("labels")
        language = _text(labels.get("language")) if isinstance(labels, dict) else None
        voices.append(Voice(voice_id, _text(item.get("name")) or voice_id, language, "elevenlabs"))
    if not voices:
        raise VoicesUnavailable(f"the answer from {url} names no voice_id")
    return _catalogue("elevenlabs", voices, models=True)


async def deepgram(http: httpx.AsyncClient, base: str, key: str, within_s: float) -> Catalogue:
    url = f"{base}/v1/models"
    body = await _get_json(http, url, {"Authorization": f"Token {key}"}, within_s)
    voices = []
    for item in _items(body, "tts", url):
        voice_id = _text(item.get("canonical_name"))
        if voice_id is None:
            continue
        languages = item.get("languages")
        language = _text(languages[0]) if isinstance(languages, list) and languages else None
        voices.append(
            Voice(voice_id, _text(item.get("name")) or voice_id, language, "deepgram-tts")
        )
    if not voices:
        raise VoicesUnavailable(f"the answer from {url} names no canonical_name")
    return _catalogue("deepgram-tts", voices)


SOURCES = {
    source.family: source
    for source in (
        CloudSource("elevenlabs", "ELEVENLABS_API_KEY", lambda s: s.elevenlabs_url, elevenlabs),
        CloudSource("deepgram-tts", "DEEPGRAM_API_KEY", lambda s: s.deepgram_url, deepgram),
    )
}

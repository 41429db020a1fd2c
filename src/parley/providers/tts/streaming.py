"""Speech synthesis services that stream raw 16-bit PCM over HTTP.

OpenAI's `/v1/audio/speech` (`response_format=pcm`), Deepgram's `/v1/speak` (linear16,
no container) and ElevenLabs' `/stream` (`pcm_24000`) all answer with a chunked body of
little-endian samples at 24 kHz; chunks may split a sample, so an odd byte is carried over.
None of them gives word timings here; the playback ledger interpolates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np

from parley.providers.base import SpeechChunk, SpeechSynthesizer
from parley.providers.errors import reported_as

RATE = 24000


async def pcm_chunks(byte_stream: AsyncIterator[bytes]) -> AsyncIterator[SpeechChunk]:
    carry = b""
    async for data in byte_stream:
        data = carry + data
        whole = len(data) - len(data) % 2
        carry = data[whole:]
        if whole:
            yield SpeechChunk(np.frombuffer(data[:whole], dtype="<i2").astype(np.int16))


class HttpPcmSynthesizer(SpeechSynthesizer):
    """POST the text, stream the PCM answer (Deepgram Aura, ElevenLabs)."""

    sample_rate = RATE

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        name: str,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> None:
        self._http = http
        self._name = name
        self._url = url
        self._headers = headers
        self._body = body

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        with reported_as(self._name):
            async with self._http.stream(
                "POST", self._url, headers=self._headers, json={**self._body, "text": text}
            ) as response:
                if response.status_code >= 400:
                    detail = (await response.aread())[:300].decode(errors="replace")
                    raise httpx.HTTPStatusError(detail, request=response.request, response=response)
                async for chunk in pcm_chunks(response.aiter_bytes()):
                    yield chunk


class OpenAISpeechSynthesizer(SpeechSynthesizer):
    """Any OpenAI-compatible `/v1/audio/speech`, through the `openai` SDK."""

    sample_rate = RATE

    def __init__(self, client: Any, model: str, voice: str) -> None:
        self._client = client
        self._model = model
        self._voice = voice
        self._name = f"openai-tts:{model}/{voice}"

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        with reported_as(self._name):
            async with self._client.audio.speech.with_streaming_response.create(
                model=self._model, voice=self._voice, input=text, response_format="pcm"
            ) as response:
                async for chunk in pcm_chunks(response.iter_bytes()):
                    yield chunk

"""Deepgram streaming recognition (`/v1/listen` over WebSocket): interim and final results.

One connection per session. Audio is sent only while the caller speaks (plus the pre-roll),
with `KeepAlive` in between so Deepgram does not close an idle stream. At the end of a turn
`Finalize` makes Deepgram flush; the result marked `from_finalize` completes the utterance.
Results are attributed to utterances by stream time (Deepgram's `start`/`duration` count the
audio sent), so a late result for abandoned audio never leaks into the next utterance.
A dropped connection fails the current utterance and is reopened for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect

from parley.audio.pcm import Int16Array
from parley.providers.base import (
    ProviderError,
    RecognitionListener,
    SpeechRecognizer,
    Transcription,
)
from parley.providers.errors import classify

log = logging.getLogger("parley.stt")

KEEPALIVE_S = 5.0
FINALIZE_GRACE_S = 2.0
MAX_QUEUED = 1500  # 30 s of 20 ms frames


def listen_url(base: str, model: str, language: str, keyterms: list[str]) -> str:
    query: list[tuple[str, str]] = [
        ("model", model),
        ("encoding", "linear16"),
        ("sample_rate", "16000"),
        ("channels", "1"),
        ("interim_results", "true"),
        ("punctuate", "true"),
        ("smart_format", "true"),
        ("language", language),
    ]
    query += [
        ("keyterm" if model.startswith("nova-3") else "keywords", term) for term in keyterms[:100]
    ]
    ws_base = base.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return f"{ws_base}/v1/listen?{urlencode(query)}"


class DeepgramRecognizer(SpeechRecognizer):
    def __init__(self, listener: RecognitionListener, *, url: str, api_key: str) -> None:
        self._listener = listener
        self._url = url
        self._api_key = api_key
        self._outgoing: asyncio.Queue[bytes | str] = asyncio.Queue(MAX_QUEUED)
        self._sent_s = 0.0
        self._utterance: int | None = None
        self._start_s = 0.0
        self._finals: list[str] = []
        self._awaiting_final = False
        self._grace: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._connect()

    def _connect(self) -> None:
        self._task = asyncio.create_task(self._run(), name="deepgram-listen")

    # Engine-facing ------------------------------------------------------------------------------

    def begin(self, utterance: int) -> None:
        if self._task is None or self._task.done():
            self._outgoing = asyncio.Queue(MAX_QUEUED)
            self._connect()
        self._utterance, self._start_s, self._finals = utterance, self._sent_s, []
        self._awaiting_final = False

    def feed(self, samples: Int16Array) -> None:
        if self._utterance is None:
            return
        try:
            self._outgoing.put_nowait(samples.astype("<i2").tobytes())
            self._sent_s += samples.size / 16000
        except asyncio.QueueFull:
            self._fail(ProviderError("deepgram", "the stream is not keeping up"))

    def finish(self) -> None:
        if self._utterance is None:
            return
        self._awaiting_final = True
        with contextlib.suppress(asyncio.QueueFull):
            self._outgoing.put_nowait(json.dumps({"type": "Finalize"}))
        loop = asyncio.get_running_loop()
        self._grace = loop.call_later(FINALIZE_GRACE_S, self._deliver_final)

    def abandon(self) -> None:
        self._utterance, self._finals, self._awaiting_final = None, [], False

    async def aclose(self) -> None:
        self._utterance = None
        if self._grace is not None:
            self._grace.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # The connection -----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            async with connect(
                self._url,
                additional_headers={"Authorization": f"Token {self._api_key}"},
                open_timeout=5,
            ) as ws:
                sender = asyncio.create_task(self._send(ws))
                try:
                    async for message in ws:
                        if isinstance(message, str):
                            self._received(json.loads(message))
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sender
            raise ProviderError("deepgram", "the stream closed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(classify("deepgram", exc))

    async def _send(self, ws: ClientConnection) -> None:
        while True:
            try:
                item = await asyncio.wait_for(self._outgoing.get(), KEEPALIVE_S)
            except TimeoutError:
                item = json.dumps({"type": "KeepAlive"})
            await ws.send(item)

    def _received(self, message: dict[str, Any]) -> None:
        if message.get("type") != "Results" or self._utterance is None:
            return
        if (
            float(message.get("start", 0)) + float(message.get("duration", 0))
            <= self._start_s + 1e-3
        ):
            return  # audio from before this utterance
        text = (message.get("channel", {}).get("alternatives") or [{}])[0].get("transcript", "")
        if message.get("is_final"):
            if text:
                self._finals.append(text)
            if self._awaiting_final and message.get("from_finalize"):
                self._deliver_final()
                return
        partial = " ".join([*self._finals, *([] if message.get("is_final") else [text])]).strip()
        if partial and not self._awaiting_final:
            self._listener.on_transcription(Transcription(self._utterance, partial, final=False))

    def _deliver_final(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self._utterance is None or not self._awaiting_final:
            return
        utterance, text = self._utterance, " ".join(self._finals).strip()
        self._utterance, self._awaiting_final, self._finals = None, False, []
        self._listener.on_transcription(Transcription(utterance, text, final=True))

    def _fail(self, error: ProviderError) -> None:
        log.warning("deepgram recognition failed: %s", error)
        utterance = self._utterance
        self._utterance, self._awaiting_final = None, False
        if utterance is not None:
            self._listener.on_recognition_error(utterance, error)

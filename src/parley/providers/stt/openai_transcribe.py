"""Any OpenAI-compatible `/v1/audio/transcriptions` server, once per finished turn.

Whisper-style servers (OpenAI, faster-whisper servers, Groq, …) take a whole file: the
utterance is buffered while the caller speaks and sent as a WAV when the turn ends. The
agent's keyterms go in the `prompt`, which biases recognition towards them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import Any

import numpy as np

from parley.audio.pcm import Int16Array
from parley.audio.wav import write_wav
from parley.providers.base import RecognitionListener, SpeechRecognizer, Transcription
from parley.providers.errors import classify

MAX_SAMPLES = 16000 * 120


class OpenAITranscriber(SpeechRecognizer):
    def __init__(
        self,
        listener: RecognitionListener,
        *,
        client: Any,
        model: str,
        language: str,
        keyterms: list[str],
    ) -> None:
        self._listener = listener
        self._client = client
        self._model = model
        self._language = language.split("-")[0]
        self._prompt = ", ".join(keyterms)[:800]
        self._utterance: int | None = None
        self._audio: list[Int16Array] = []
        self._samples = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def begin(self, utterance: int) -> None:
        self._utterance, self._audio, self._samples = utterance, [], 0

    def feed(self, samples: Int16Array) -> None:
        if self._utterance is not None and self._samples < MAX_SAMPLES:
            self._audio.append(samples)
            self._samples += samples.size

    def finish(self) -> None:
        if self._utterance is None:
            return
        utterance, audio = self._utterance, self._audio
        self._utterance, self._audio, self._samples = None, [], 0
        task = asyncio.create_task(self._transcribe(utterance, audio))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def abandon(self) -> None:
        self._utterance, self._audio, self._samples = None, [], 0

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _transcribe(self, utterance: int, audio: list[Int16Array]) -> None:
        wav = io.BytesIO()
        write_wav(wav, [np.concatenate(audio) if audio else np.zeros(0, np.int16)], 16000)
        options: dict[str, Any] = {"language": self._language}
        if self._prompt:
            options["prompt"] = self._prompt
        try:
            result = await self._client.audio.transcriptions.create(
                model=self._model, file=("speech.wav", wav.getvalue(), "audio/wav"), **options
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._listener.on_recognition_error(
                utterance, classify(f"openai-stt:{self._model}", exc)
            )
            return
        text = result if isinstance(result, str) else getattr(result, "text", "")
        self._listener.on_transcription(Transcription(utterance, str(text).strip(), final=True))

"""A local OpenAI-compatible server: streaming chat completions, transcriptions, speech,
embeddings.

It speaks the real wire protocol (server-sent `chat.completion.chunk`s with tool-call deltas
split across chunks, `[DONE]`; multipart transcriptions; chunked PCM speech), checks the
bearer key, records every request, and follows a script of answers and faults.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.fakes.faults import Dropped, Fault, hang, http_fault, sse


@dataclass
class Reply:
    """A chat answer: text streamed in pieces, then tool calls as argument deltas."""

    text: str = ""
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class FakeOpenAI:
    def __init__(self, key: str = "sk-test") -> None:
        self.key = key
        self.chat_script: list[Reply | Fault] = []
        self.transcripts: list[str | Fault] = []
        self.speech_script: list[float | Fault] = []  # seconds of tone, or a fault
        self.embedding_script: list[Fault] = []  # faults for the next embedding requests
        self.embedding_requests: list[dict[str, Any]] = []
        # The fake embedding model's "meaning": words of one concept share a dimension
        # (weighted x3); every other word has its own (hashed). Callers add concepts.
        self.concepts: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []  # every chat request's, before the key check
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
                Route("/v1/audio/speech", self._speech, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.key}"

    async def _chat(self, request: Request) -> Response:
        self.headers_seen.append(dict(request.headers))
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        step = self.chat_script.pop(0) if self.chat_script else Reply("Okay.")
        if isinstance(step, Fault):
            if step.kind == "http":
                return http_fault(step)
            if step.kind == "hang":
                await hang(step)
        usage = (body.get("stream_options") or {}).get("include_usage") is True
        return StreamingResponse(
            self._events(step, body if usage else None), media_type="text/event-stream"
        )

    async def _events(
        self, step: Reply | Fault, counted: dict[str, Any] | None = None
    ) -> AsyncIterator[bytes]:
        yield sse(_chunk({"role": "assistant", "content": ""}))
        if isinstance(step, Fault) and step.kind == "garbage":
            yield b"data: {this is not json\n\n"
            return
        text = step.text if isinstance(step, Reply) else "This answer will be cut"
        for index in range(0, len(text), 4):
            yield sse(_chunk({"content": text[index : index + 4]}))
            await asyncio.sleep(0.002)
        if isinstance(step, Fault) and step.kind == "drop":
            raise Dropped
        if isinstance(step, Fault) and step.kind == "stall":  # mid-answer, connection open
            await asyncio.sleep(step.seconds)
            return
        assert isinstance(step, Reply)
        for position, (call_id, name, arguments) in enumerate(step.tool_calls):
            yield sse(
                _chunk(
                    {
                        "tool_calls": [
                            {
                                "index": position,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            encoded = json.dumps(arguments)
            for start in range(0, len(encoded), 5):
                piece = encoded[start : start + 5]
                yield sse(
                    _chunk({"tool_calls": [{"index": position, "function": {"arguments": piece}}]})
                )
        yield sse(_chunk({}, "tool_calls" if step.tool_calls else "stop"))
        if counted is not None:  # as OpenAI does: a last chunk, no choices, the usage
            prompt = sum(len(str(m.get("content") or "").split()) for m in counted["messages"])
            answer = len(step.text.split()) + len(step.tool_calls)
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": answer,
                "total_tokens": prompt + answer,
            }
            yield sse({**_chunk({}), "choices": [], "usage": usage})
        yield sse("[DONE]")

    async def _transcribe(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        form = await request.form()
        upload = form["file"]
        audio = await upload.read()  # type: ignore[union-attr]
        self.requests.append(
            {
                "model": form.get("model"),
                "prompt": form.get("prompt"),
                "language": form.get("language"),
                "bytes": len(audio),
            }
        )
        step = self.transcripts.pop(0) if self.transcripts else "hello there"
        if isinstance(step, Fault):
            return http_fault(step)
        return JSONResponse({"text": step})

    async def _speech(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        step = self.speech_script.pop(0) if self.speech_script else 0.5
        if isinstance(step, Fault):
            if step.kind == "http":
                return http_fault(step)
            await hang(step)
            step = 0.5
        return StreamingResponse(pcm_tone(24000, step), media_type="audio/pcm")

    async def _embeddings(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.embedding_requests.append(body)
        if self.embedding_script:
            step = self.embedding_script.pop(0)
            if step.kind == "hang":
                await hang(step)
            return http_fault(step)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": self.embed(text)}
            for i, text in enumerate(inputs)
        ]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return JSONResponse(
            {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}
        )  # reversed: clients must order by `index`

    def embed(self, text: str) -> list[float]:
        vector = [0.0] * EMBEDDING_DIMENSIONS
        for word in re.findall(r"[a-z]+", text.lower()):
            concept = self.concepts.get(word)
            key, weight = (f"concept:{concept}", 3.0) if concept else (word, 1.0)
            vector[zlib.crc32(key.encode()) % EMBEDDING_DIMENSIONS] += weight
        return vector


EMBEDDING_DIMENSIONS = 96


async def pcm_tone(rate: int, seconds: float, chunk_bytes: int = 4801) -> AsyncIterator[bytes]:
    """A tone as little-endian PCM in odd-sized chunks (samples split across chunks)."""
    t = np.arange(int(rate * seconds)) / rate
    data = (np.sin(2 * np.pi * 330 * t) * 7000).astype("<i2").tobytes()
    for start in range(0, len(data), chunk_bytes):
        yield data[start : start + chunk_bytes]
        await asyncio.sleep(0)

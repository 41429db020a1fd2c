"""Any OpenAI-compatible chat server, through the official `openai` SDK, streaming.

OpenAI itself, Ollama, vLLM, llama.cpp's server, LM Studio, Groq, Together, … : the same
`/v1/chat/completions` with server-sent events. Tool calls arrive as deltas (an id and name,
then the arguments JSON in pieces, per call index) and are reassembled here; they are
handed to the engine once the stream ends, so a response cancelled mid-stream never
dispatches them. The SDK's own retries are off: a voice turn cannot wait for backoff, the
fallback chain decides instead.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    LlmEvent,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    Usage,
)
from parley.providers.errors import reported_as
from parley.providers.llm.formats import DEFAULT_MAX_TOKENS, openai_messages, openai_tools


class OpenAIChatModel(LanguageModel):
    def __init__(
        self, client: Any, model: str, *, name: str = "openai", official: bool = False
    ) -> None:
        self._client = client
        self._model = model
        self._official = official  # api.openai.com wants max_completion_tokens
        self.name = f"{name}:{model}"

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        options: dict[str, Any] = {}
        if request.tools:
            options["tools"] = openai_tools(request.tools)
            options["tool_choice"] = "auto" if request.allow_tools else "none"
        if request.temperature is not None:
            options["temperature"] = request.temperature
        limit = request.max_tokens or DEFAULT_MAX_TOKENS
        options["max_completion_tokens" if self._official else "max_tokens"] = limit
        calls: dict[int, dict[str, str]] = {}
        with reported_as(self.name):
            stream = await self._client.chat.completions.create(
                model=self._model,
                messages=openai_messages(request),
                stream=True,
                stream_options={"include_usage": True},  # a last chunk with the token counts
                **options,
            )
            async for chunk in stream:
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    yield Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0)
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta is None:
                    continue
                if delta.content:
                    yield TextDelta(delta.content)
                for piece in delta.tool_calls or ():
                    call = calls.setdefault(piece.index or 0, {"id": "", "name": "", "args": ""})
                    call["id"] = piece.id or call["id"]
                    if piece.function is not None:
                        call["name"] += piece.function.name or ""
                        call["args"] += piece.function.arguments or ""
        for index in sorted(calls):
            yield ToolCallRequest(self._call(calls[index]))

    def _call(self, raw: dict[str, str]) -> ToolCall:
        try:
            arguments = json.loads(raw["args"] or "{}")
        except ValueError:
            raise ProviderError(
                self.name, f"tool call arguments are not JSON: {raw['args']!r}", retryable=False
            ) from None
        if not isinstance(arguments, dict) or not raw["name"]:
            raise ProviderError(self.name, "malformed tool call", retryable=False)
        return ToolCall(raw["id"] or "call_" + secrets.token_hex(8), raw["name"], arguments)

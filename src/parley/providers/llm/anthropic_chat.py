"""Anthropic's Messages API through the official `anthropic` SDK, streaming.

Text arrives as `text_delta`s; a tool call as a `tool_use` block start (id, name) followed by
`input_json_delta` pieces of its input. As with OpenAI, tool calls are handed over when the
stream ends and the SDK's retries are off.
"""

from __future__ import annotations

import json
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
)
from parley.providers.errors import reported_as
from parley.providers.llm.formats import DEFAULT_MAX_TOKENS, anthropic_messages, anthropic_tools


class AnthropicModel(LanguageModel):
    def __init__(self, client: Any, model: str) -> None:
        self._client = client
        self._model = model
        self.name = f"anthropic:{model}"

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        options: dict[str, Any] = {}
        if request.system_prompt:
            options["system"] = request.system_prompt
        if request.tools:
            options["tools"] = anthropic_tools(request.tools)
            options["tool_choice"] = {"type": "auto" if request.allow_tools else "none"}
        if request.temperature is not None:
            # Current SDKs no longer take sampling parameters (the newest models ignore
            # them); an agent that sets one still gets it sent, for the models that use it.
            options["extra_body"] = {"temperature": min(1.0, request.temperature)}
        blocks: dict[int, dict[str, str]] = {}
        with reported_as(self.name):
            stream = await self._client.messages.create(
                model=self._model,
                messages=anthropic_messages(request),
                max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
                stream=True,
                **options,
            )
            async for event in stream:
                kind = getattr(event, "type", "")
                if kind == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in blocks:
                        blocks[event.index]["json"] += delta.partial_json
                elif kind == "error":
                    raise ProviderError(self.name, f"stream error: {event}")
        for index in sorted(blocks):
            block = blocks[index]
            try:
                arguments = json.loads(block["json"] or "{}")
            except ValueError:
                raise ProviderError(self.name, "tool input is not JSON", retryable=False) from None
            yield ToolCallRequest(ToolCall(block["id"], block["name"], arguments))

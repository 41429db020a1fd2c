"""`echo`: the stand-in "language model" until a real one is configured.

No language model ships inside a Python package, so Parley's offline default answers from
what it heard: it repeats the caller's words, and when the caller names one of the agent's
tools ("place the order" for `place_order`) it calls that tool, then reports its result. Honest
and deterministic, which also makes it the right model for end-to-end tests.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from parley.providers.base import (
    ChatRequest,
    LanguageModel,
    LlmEvent,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
)


def _spoken(name: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def _names(tool: ToolSpec, utterance: str) -> bool:
    """The tool's name words occur in the utterance in order ("place the order" names
    `place_order`), with at most two other words between each."""
    wanted, words = _spoken(tool.name).split(), utterance.split()
    if not wanted:
        return False
    for start, word in enumerate(words):
        if word != wanted[0]:
            continue
        position = start
        for name_word in wanted[1:]:
            window = words[position + 1 : position + 4]
            if name_word not in window:
                break
            position += 1 + window.index(name_word)
        else:
            return True
    return False


def _arguments(tool: ToolSpec, utterance: str) -> dict[str, Any]:
    """Fill the tool's required string parameters with what the caller said."""
    properties = tool.parameters.get("properties", {})
    return {
        name: utterance
        for name in tool.parameters.get("required", [])
        if properties.get(name, {}).get("type", "string") == "string"
    }


class EchoModel(LanguageModel):
    name = "echo"

    async def respond(self, request: ChatRequest) -> AsyncIterator[LlmEvent]:
        last = request.turns[-1] if request.turns else None
        if last is not None and last.role == "tool":
            reply = f"{_spoken(last.tool_name or 'the tool')} says {_result_text(last.text)}"
        else:
            heard = last.text.strip() if last is not None and last.role == "user" else ""
            spoken = " ".join(re.findall(r"[a-z0-9']+", heard.lower()))
            if request.allow_tools:
                for tool in request.tools:
                    if _names(tool, spoken):
                        call_id = "call_" + secrets.token_hex(6)
                        yield ToolCallRequest(ToolCall(call_id, tool.name, _arguments(tool, heard)))
                        return
            reply = f"You said: {heard}" if heard else "Sorry, I did not catch that."
        for index, word in enumerate(reply.split(" ")):
            yield TextDelta(word if index == 0 else " " + word)


def _result_text(result: str) -> str:
    try:
        value = json.loads(result)
    except ValueError:
        return result
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return result if not isinstance(value, str) else value

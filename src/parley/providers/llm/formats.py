"""A `ChatRequest` in the shapes of the two chat API families. Pure functions.

OpenAI-style: a system message, then user/assistant/tool messages; an assistant message
carries its `tool_calls`, each answered by a `tool` message with the same id.
Anthropic-style: a separate system prompt (an instruction placed mid-conversation becomes a
marked note in a user message); strictly alternating user/assistant messages starting with
the user; tool calls are `tool_use` blocks in the assistant's message and
their results `tool_result` blocks in the next user message.
"""

from __future__ import annotations

import json
from typing import Any

from parley.providers.base import ChatRequest, ToolSpec

CALL_STARTED = "(The caller is on the line.)"
SYSTEM_NOTE = "[Instruction from the system, not the caller:]"
DEFAULT_MAX_TOKENS = 1024  # a reply's budget when the agent sets none (both APIs want one)


def openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    for turn in request.turns:
        if turn.role in ("user", "system"):
            messages.append({"role": turn.role, "content": turn.text})
        elif turn.role == "assistant":
            message: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
            if turn.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in turn.tool_calls
                ]
            messages.append(message)
        else:
            messages.append(
                {"role": "tool", "tool_call_id": turn.tool_call_id, "content": turn.text}
            )
    return messages


def openai_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def anthropic_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for turn in request.turns:
        if turn.role == "user":
            add("user", [{"type": "text", "text": turn.text}] if turn.text else [])
        elif turn.role == "system":  # Anthropic has no system message mid-way: a marked note
            add("user", [{"type": "text", "text": f"{SYSTEM_NOTE} {turn.text}"}])
        elif turn.role == "assistant":
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": turn.text}] if turn.text else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in turn.tool_calls
            ]
            add("assistant", blocks)
        else:
            add(
                "user",
                [{"type": "tool_result", "tool_use_id": turn.tool_call_id, "content": turn.text}],
            )
    if not messages or messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": CALL_STARTED}]})
    if messages[-1]["role"] != "user":  # the model answers a user message, never itself
        messages.append({"role": "user", "content": [{"type": "text", "text": "(silence)"}]})
    return messages


def anthropic_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]

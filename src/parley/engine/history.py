"""The conversation as the language model sees it, and as the transcript tells it.

Entries are appended in speaking order: what the caller said, what the agent said (only the
part the caller heard), and tool invocations. A tool invocation holds its call and, once it
arrives, its result, so however late the result comes (even after the caller has moved on)
it is placed right after its call when the context is built, as every chat API requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from parley.engine.events import ToolStatus
from parley.providers.base import ChatTurn, ToolCall

PENDING_RESULT = "(no result yet: the tool is still running)"


@dataclass
class Said:
    role: Literal["user", "agent", "system"]  # system: an instruction a client placed here
    text: str
    group: int | None = None  # the model round that produced an agent utterance


@dataclass
class Invocation:
    call: ToolCall
    group: int
    client_side: bool
    status: ToolStatus = "running"
    result: str | None = None

    def record(self) -> dict[str, Any]:
        """The transcript's view of the call."""
        return {
            "id": self.call.id,
            "name": self.call.name,
            "arguments": self.call.arguments,
            "client_side": self.client_side,
            "status": self.status,
            "result": self.result,
        }


Entry = Said | Invocation


class History:
    def __init__(self, earlier: list[Entry] | None = None) -> None:
        self.entries: list[Entry] = list(earlier or [])
        self._session_start = len(self.entries)

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)

    def turns(self, extra_user: str | None = None) -> tuple[ChatTurn, ...]:
        turns: list[ChatTurn] = []
        entries = self.entries
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if isinstance(entry, Said) and entry.role in ("user", "system"):
                turns.append(ChatTurn(entry.role, entry.text))
                continue
            group = entry.group
            text = entry.text if isinstance(entry, Said) else ""
            calls = [entry] if isinstance(entry, Invocation) else []
            while index < len(entries):
                following = entries[index]
                if not isinstance(following, Invocation) or following.group != group:
                    break
                calls.append(following)
                index += 1
            if text or calls:
                turns.append(ChatTurn("assistant", text, tuple(c.call for c in calls)))
            turns.extend(
                ChatTurn("tool", _result_text(c), tool_call_id=c.call.id, tool_name=c.call.name)
                for c in calls
            )
        if extra_user:
            turns.append(ChatTurn("user", extra_user))
        return tuple(turns)

    def transcript(self) -> list[dict[str, str]]:
        """This session's utterances, `{role, text}`, for the `ended` message."""
        return [
            {"role": entry.role, "text": entry.text}
            for entry in self.entries[self._session_start :]
            if isinstance(entry, Said) and entry.role != "system"
        ]

    def forget(self, role: str, text: str | None = None, call_id: str | None = None) -> bool:
        """Remove the last utterance of `role` saying exactly `text`, or the call
        `call_id` (with its result)."""
        for index in range(len(self.entries) - 1, -1, -1):
            entry = self.entries[index]
            said = (
                isinstance(entry, Said)
                and text is not None
                and (entry.role, entry.text) == (role, text)
            )
            called = (
                isinstance(entry, Invocation) and call_id is not None and entry.call.id == call_id
            )
            if said or called:
                del self.entries[index]
                return True
        return False


def _result_text(invocation: Invocation) -> str:
    if invocation.result is not None:
        return invocation.result
    if invocation.status in ("failed", "cancelled"):
        return json.dumps({"error": f"tool call {invocation.status}"})
    return PENDING_RESULT

"""Conversation items as a Realtime client sees them, and the ids that name them.

`Items` keeps every item the connection announced, in order, so `previous_item_id`,
`conversation.item.retrieve` and `conversation.item.truncate` can be answered. It is
bounded: past `MAX_ITEMS` the oldest are forgotten (a retrieve of one says it is unknown).
The item builders give the era's content types (GA `output_audio` / beta `audio`).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any

MAX_ITEMS = 1000


class Ids:
    """Ids in OpenAI's style (`event_…`, `item_…`, `resp_…`), unique per connection."""

    def __init__(self) -> None:
        self._stem = secrets.token_hex(5)
        self._next = 0

    def new(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}_{self._stem}{self._next:07x}"


class Items:
    def __init__(self) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def last_id(self) -> str | None:
        return next(reversed(self._items), None)

    def add(self, item: dict[str, Any]) -> str | None:
        """Keep `item`; the id of the one before it."""
        previous = self.last_id
        self._items[item["id"]] = item
        while len(self._items) > MAX_ITEMS:
            self._items.popitem(last=False)
        return previous

    def get(self, item_id: str) -> dict[str, Any] | None:
        return self._items.get(item_id)

    def with_call(self, call_id: str, *, but: str) -> list[str]:
        """The other items of a function call (the call, its output)."""
        return [i for i, item in self._items.items() if item.get("call_id") == call_id and i != but]

    def remove(self, item_id: str) -> None:
        self._items.pop(item_id, None)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items


def _item(item_id: str, kind: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": item_id, "object": "realtime.item", "type": kind, "status": status, **fields}


def user_audio(item_id: str) -> dict[str, Any]:
    content = [{"type": "input_audio", "transcript": None}]
    return _item(item_id, "message", "completed", role="user", content=content)


def user_text(item_id: str, text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return _item(item_id, "message", "completed", role="user", content=content)


def system(item_id: str, text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return _item(item_id, "message", "completed", role="system", content=content)


def assistant(item_id: str, *, beta: bool, text_only: bool, text: str = "") -> dict[str, Any]:
    if text_only:
        part = {"type": "text" if beta else "output_text", "text": text}
    else:
        part = {"type": "audio" if beta else "output_audio", "transcript": text}
    return _item(item_id, "message", "in_progress", role="assistant", content=[part])


def function_call(item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return _item(
        item_id, "function_call", "completed", call_id=call_id, name=name, arguments=arguments
    )


def function_output(item_id: str, call_id: str, output: str) -> dict[str, Any]:
    return _item(item_id, "function_call_output", "completed", call_id=call_id, output=output)

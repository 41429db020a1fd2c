"""What every part of a Realtime connection's output shares: the socket's send, the ids,
the items announced so far, and the era's event names."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from parley.dialects.realtime.items import Ids, Items

Send = Callable[[str], None]


class Wire:
    def __init__(self, send: Send, *, beta: bool) -> None:
        self._send = send
        self.beta = beta
        self.ids = Ids()
        self.items = Items()

    def emit(self, kind: str, **fields: Any) -> None:
        self._send(json.dumps({"type": kind, "event_id": self.ids.new("event"), **fields}))

    def error(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        error = {"type": kind, "code": code, "message": message, "param": param}
        self.emit("error", error={**error, "event_id": event_id})

    def name(self, ga: str, beta: str) -> str:
        return beta if self.beta else ga

    def item_added(self, item: dict[str, Any]) -> None:
        """Keep `item` and announce it (GA `conversation.item.added`, beta `created`)."""
        previous = self.items.add(item)
        kind = self.name("conversation.item.added", "conversation.item.created")
        self.emit(kind, previous_item_id=previous, item=item)

    def item_done(self, item: dict[str, Any]) -> None:
        if not self.beta:
            self.emit("conversation.item.done", item=item)

    def item_created(self, item: dict[str, Any]) -> None:
        """An item the client created (a message, a tool's output): whole at once."""
        self.item_added(item)
        self.item_done(item)

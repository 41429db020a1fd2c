"""Tool calls from dispatch to result: the lifecycle rules (docs/architecture.md) in one place.

1. Calls are dispatched only when their model round finishes; a response cancelled before
   that never dispatches them (the responding side never calls `dispatch`).
2. Once dispatched, a call is in the history and the transcript at once, and its result is
   recorded whenever it arrives, even after its response was cancelled.
3. Every call has a timeout (a `tool_timeout` timer); a timeout or a failure is recorded as
   an error result.
4. `hang_up` takes effect only from the current, uncancelled response (the core asks).
5. A client result for an unknown, finished or server-side call is refused (`resolve` says
   None) and the conversation warns the client.
6. Rounds per turn are capped by the engine, whatever the model does: calls from a round
   past `max_tool_rounds` are `refuse`d, recorded with an error result, never run.

Pure: server-side calls leave as `RunTool` effects and come back as `ServerToolDone`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley.engine.effects import Outbox, RunTool
from parley.engine.events import ToolCallUpdate, ToolStatus
from parley.engine.history import History, Invocation
from parley.engine.tools import (
    HANGS_UP,
    SEARCHES,
    TRANSFERS,
    Ending,
    ToolCatalogue,
    ToolDefinition,
)
from parley.engine.transcript import Record
from parley.providers.base import ToolAnswer, ToolCall


@dataclass(frozen=True, slots=True)
class ServerToolDone:
    call_id: str
    result: str
    failed: bool
    answer: ToolAnswer | None = None  # what else the tool's answer asked of the call


@dataclass
class DispatchedCall:
    invocation: Invocation
    seq: int
    response: int
    turn: int
    definition: ToolDefinition | None


def error_result(message: str) -> str:
    return json.dumps({"error": message})


class ToolDesk:
    def __init__(
        self,
        *,
        catalogue: ToolCatalogue,
        history: History,
        out: Outbox,
        next_seq: Callable[[], int],
        client_timeout_s: float,
        server_timeout_s: float,
        facts: Callable[[], dict[str, Any]],
    ) -> None:
        self.catalogue = catalogue
        self._history = history
        self._out = out
        self._next_seq = next_seq
        self._client_timeout = client_timeout_s
        self._server_timeout = server_timeout_s
        self._facts = facts
        self._calls: dict[str, DispatchedCall] = {}

    def dispatch(
        self,
        calls: list[ToolCall],
        *,
        response: int,
        group: int,
        turn: int,
        now: float,
        catalogue: ToolCatalogue | None = None,
    ) -> Ending | None:
        """Dispatch a finished round's calls (`catalogue`: a response's own tools, else the
        session's); how the session ends if one of them was `hang_up` or `transfer_call`."""
        ending: Ending | None = None
        for call in calls:
            entry = self._enter(call, response, group, turn, catalogue)
            definition = entry.definition
            if definition is None:
                self._settle(entry, error_result(f"no tool named {call.name!r}"), "failed")
            elif definition.kind == "builtin" and definition.name not in SEARCHES:
                ending = ending or self._builtin(entry, definition, call)
            elif definition.kind == "client":
                self._update(entry, "requested")
                timeout = definition.timeout_s or self._client_timeout
                self._out.arm("tool_timeout", call.id, now + timeout)
            else:
                self._update(entry, "running")
                timeout = definition.timeout_s or self._server_timeout
                self._out.arm("tool_timeout", call.id, now + timeout)
                asks = definition.endpoint is not None and bool(definition.endpoint.placement)
                facts = self._facts() if asks else {}  # only what a tool asks for is built
                self._out.add(RunTool(call.id, definition, call.arguments, facts))
        return ending

    def _builtin(
        self, entry: DispatchedCall, definition: ToolDefinition, call: ToolCall
    ) -> Ending | None:
        """Settle a call the engine answers itself; a transfer only to a named destination."""
        if definition.name in TRANSFERS:
            name = call.arguments.get("destination")
            number = dict(definition.destinations).get(name) if isinstance(name, str) else None
            if number is None:
                names = ", ".join(n for n, _ in definition.destinations)
                message = f"unknown destination {name!r}; choose one of: {names}"
                self._settle(entry, error_result(message), "failed")
                return None
            self._settle(entry, json.dumps({"ok": True, "transferring_to": name}), "completed")
            return Ending("transfer", number)
        self._settle(entry, json.dumps({"ok": True}), "completed")
        return Ending("agent_hangup") if definition.name in HANGS_UP else None

    def refuse(
        self,
        calls: list[ToolCall],
        *,
        response: int,
        group: int,
        turn: int,
        reason: str,
        catalogue: ToolCatalogue | None = None,
    ) -> None:
        """Record calls the engine will not run (past the round cap) with an error result."""
        for call in calls:
            entry = self._enter(call, response, group, turn, catalogue)
            self._settle(entry, error_result(reason), "failed")

    def resolve(
        self, call_id: str, result: str, *, failed: bool = False, from_client: bool = False
    ) -> DispatchedCall | None:
        """Record a result; None if no such call is waiting (or a client answers a server one)."""
        entry = self._calls.get(call_id)
        if entry is None or entry.invocation.status not in ("requested", "running"):
            return None
        if from_client and not entry.invocation.client_side:
            return None
        self._settle(entry, result, "failed" if failed else "completed")
        return entry

    def timed_out(self, call_id: str) -> DispatchedCall | None:
        return self.resolve(call_id, error_result("the tool did not answer in time"), failed=True)

    def outstanding(self, response: int, group: int) -> bool:
        return any(
            e.response == response
            and e.invocation.group == group
            and e.invocation.status in ("requested", "running")
            for e in self._calls.values()
        )

    def close(self) -> None:
        """The session is ending: calls still waiting are recorded as cancelled."""
        for entry in self._calls.values():
            if entry.invocation.status in ("requested", "running"):
                self._settle(entry, error_result("the session ended"), "cancelled")

    def _enter(
        self,
        call: ToolCall,
        response: int,
        group: int,
        turn: int,
        catalogue: ToolCatalogue | None = None,
    ) -> DispatchedCall:
        definition = (catalogue or self.catalogue).get(call.name)
        client_side = definition is not None and definition.kind == "client"
        invocation = Invocation(call, group, client_side)
        self._history.add(invocation)
        entry = DispatchedCall(invocation, self._next_seq(), response, turn, definition)
        self._calls[call.id] = entry
        return entry

    def _settle(self, entry: DispatchedCall, result: str, status: ToolStatus) -> None:
        self._out.disarm("tool_timeout", entry.invocation.call.id)
        entry.invocation.result = result
        self._update(entry, status)

    def _update(self, entry: DispatchedCall, status: ToolStatus) -> None:
        invocation = entry.invocation
        invocation.status = status
        self._out.emit(
            ToolCallUpdate(
                invocation.call.id,
                invocation.call.name,
                invocation.call.arguments,
                status,
                invocation.client_side,
                invocation.result,
            )
        )
        self._out.save(Record(entry.seq, "tool_call", turn=entry.turn, tool=invocation.record()))

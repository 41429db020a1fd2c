"""The session-wide facts every part of the core reads and writes: the agent's state, the
system prompt, and the transcript's numbering.

Shared by reference between the core and its parts, instead of callbacks into the core:
nothing in a session points back at its owner, so a session's objects form no reference
cycles and are freed the moment it ends (not at the next full collection, which a
latency-tuned server makes rare: 200 churning callers left 1,700 ended sessions and their
sockets' unread frames waiting for one).
"""

from __future__ import annotations

from typing import Any

from parley.engine.effects import Outbox
from parley.engine.events import State, StateChanged


class Status:
    def __init__(
        self, out: Outbox, system_prompt: str, call_state: dict[str, Any] | None = None
    ) -> None:
        self._out = out
        self.state: State = "idle"
        self.system_prompt = system_prompt
        self.call_state: dict[str, Any] = dict(call_state or {})  # tools read and write it
        self._seq = 0

    def set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._out.emit(StateChanged(state))

    def next_seq(self) -> int:
        """The next transcript row's place in the conversation."""
        seq = self._seq
        self._seq += 1
        return seq

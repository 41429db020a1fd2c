"""Agent messages waiting for quiet: `SayAsAgent` with urgency `soon`, said once neither the
agent nor the caller is mid-turn.

A bounded queue, like every queue: at most `MAX_QUEUED` wait; past that a message is refused
with a `Notice`. A goodbye (a message that ends the call) is never refused: it replaces
whatever was waiting, and nothing may queue behind it. Pure.
"""

from __future__ import annotations

from collections import deque

from parley.engine.events import Notice, SayAsAgent

MAX_QUEUED = 8


class WaitingLines:
    def __init__(self) -> None:
        self._lines: deque[SayAsAgent] = deque()

    def __bool__(self) -> bool:
        return bool(self._lines)

    def offer(self, line: SayAsAgent) -> Notice | None:
        """Queue `line`; the notice saying why not, if it is refused."""
        if line.then_end is not None:  # a goodbye is never dropped: it replaces the queue
            self._lines = deque([line])
        elif len(self._lines) >= MAX_QUEUED:
            return Notice("queue_full", f"at most {MAX_QUEUED} messages may wait")
        elif any(queued.then_end for queued in self._lines):
            return Notice("ending", "the call is ending; the message was not queued")
        else:
            self._lines.append(line)
        return None

    def next(self) -> SayAsAgent:
        return self._lines.popleft()

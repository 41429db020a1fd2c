"""Which of the agent's audio Twilio has played, from the marks it echoes.

Twilio buffers the audio a server sends and plays it out; a `mark` sent after some audio
comes back once everything before it has played. So each batch of agent audio is followed
by a mark naming it, and each echo tells the engine how much of the session's output audio
has been heard (`PlaybackProgress`), which places a barge-in's cut exactly.

After a `clear` Twilio echoes every pending mark at once though their audio never played;
`clear` forgets them, so those echoes are ignored. Pure and bounded: at most `MAX_PENDING`
marks wait (minutes of audio); the oldest are dropped beyond that.
"""

from __future__ import annotations

from collections import deque

MAX_PENDING = 4096


class PlayedMarks:
    def __init__(self) -> None:
        self._pending: deque[tuple[str, float]] = deque()
        self._next = 0
        self.sent_ms = 0.0  # the session's output audio sent so far (cleared audio too)

    def sent(self, ms: float) -> str:
        """Audio of `ms` was sent: the name of the mark to send after it."""
        self.sent_ms += ms
        self._next += 1
        name = str(self._next)
        self._pending.append((name, self.sent_ms))
        if len(self._pending) > MAX_PENDING:
            self._pending.popleft()
        return name

    def echoed(self, name: str) -> float | None:
        """Twilio played up to mark `name`: the output audio played so far, in ms; None for
        a mark that is not pending (cleared, already echoed, or never sent)."""
        if not any(pending == name for pending, _ in self._pending):
            return None
        while self._pending:
            pending, ms = self._pending.popleft()
            if pending == name:
                return ms
        return None  # unreachable: the name was pending

    def clear(self) -> None:
        """The audio not yet played was dropped: its marks will echo, but mean nothing.
        `sent_ms` still counts it, as the engine's own session position does."""
        self._pending.clear()

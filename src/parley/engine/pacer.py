"""Real-time output pacing: send audio no faster than it plays, a little ahead.

A frame may leave once its end is within `lead_ms` of the playback position, so the client's buffer
stays short (a barge-in has little queued audio to drop) and the server always knows roughly
what has been played: the position is the time since the stream started, capped by what
was sent. When the queue runs dry the stream pauses and resumes where playback is.

Pure and I/O-free: the owner asks `due(now)` for what to send and `next_due()` for when to
ask again, and drives it from a timer.

A pause (the caller talking over the agent) is the owner's: it stops asking. If the client
dropped what it had not played, `rewind` takes those frames back (the last `lead_ms` +
`RECENT_MS` sent are kept for it) so they are sent again; `restart` then plays on from the
position reached.
"""

from __future__ import annotations

import math
from collections import deque

# Timers fire at exactly the computed instant; rounding must not make a due frame "not yet".
_TOLERANCE_MS = 1e-6
RECENT_MS = 600.0  # sent frames kept to take back, past the lead: a bunch and the latency


class Pacer:
    def __init__(self, frame_ms: float, lead_ms: float) -> None:
        self.frame_ms = frame_ms
        self.lead_ms = lead_ms
        self._queue: deque[bytes] = deque()
        kept = math.ceil((lead_ms + RECENT_MS) / frame_ms)
        self._recent: deque[bytes] = deque(maxlen=max(1, kept))
        self._origin: float | None = None  # loop time at which stream position 0 plays
        self.sent_ms = 0.0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def push(self, frames: list[bytes], now: float) -> None:
        if self._origin is None:
            self._origin = now
        elif not self._queue and self.played_ms(now) >= self.sent_ms:
            # The stream ran dry and the client has played everything: continue from now.
            self._origin = now - self.sent_ms / 1000
        self._queue.extend(frames)

    def due(self, now: float) -> list[bytes]:
        if self._origin is None:
            return []
        allowed = (now - self._origin) * 1000 + self.lead_ms + _TOLERANCE_MS
        out: list[bytes] = []
        while self._queue and self.sent_ms + self.frame_ms <= allowed:
            out.append(self._queue.popleft())
            self.sent_ms += self.frame_ms
        self._recent.extend(out)
        return out

    def rewind(self, played_ms: float) -> float:
        """The client dropped the audio it had not played: take back every frame from the one
        playing at `played_ms` (the owner's best figure: this pacer's estimate, or less where
        the client's reports say so), to be sent again. Returns the audio taken back, in ms."""
        played = min(played_ms, self.sent_ms)
        playing = math.floor(played / self.frame_ms + 1e-9) * self.frame_ms
        count = min(len(self._recent), max(0, round((self.sent_ms - playing) / self.frame_ms)))
        back = [self._recent.pop() for _ in range(count)]
        self._queue.extendleft(back)  # popped newest first, so they land in order
        self.sent_ms -= count * self.frame_ms
        return count * self.frame_ms

    def restart(self, now: float) -> None:
        """Go on after a pause: playback continues from what was sent, once the client has
        played what it still holds."""
        if self._origin is not None:
            self._origin = max(self._origin, now - self.sent_ms / 1000)

    def has_due(self, now: float) -> bool:
        if self._origin is None or not self._queue:
            return False
        allowed = (now - self._origin) * 1000 + self.lead_ms + _TOLERANCE_MS
        return self.sent_ms + self.frame_ms <= allowed

    def next_due(self) -> float | None:
        """Loop time at which the next queued frame may be sent, or None if none is queued."""
        if not self._queue or self._origin is None:
            return None
        return self._origin + (self.sent_ms + self.frame_ms - self.lead_ms) / 1000

    def played_ms(self, now: float) -> float:
        """Estimated audio the client has played of this stream."""
        if self._origin is None:
            return 0.0
        return max(0.0, min(self.sent_ms, (now - self._origin) * 1000))

    def finished_at(self) -> float | None:
        """Loop time at which everything sent so far will have been played."""
        if self._origin is None:
            return None
        return self._origin + self.sent_ms / 1000

    def clear(self) -> None:
        self._queue.clear()

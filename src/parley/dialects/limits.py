"""What one connection may send, and how fast: the limits every dialect enforces.

A client that floods (audio faster than real time, control messages by the hundred) must not
take the event loop from everyone else, and must hear why it is being refused. `InputGuard`
is a pure object, fed sizes and times and answering with a verdict; the dialect's shell acts
on it. Audio is metered in milliseconds of sound (real time plus a burst, so a client catching
up after a network stall is not refused) and in frames (so a million one-byte frames cannot
pass as "little audio"); control messages by count. A refused frame is dropped with an error
(at most one per `REPORT_EVERY_S`, so refusals do not become a flood of their own), and a
client still being refused at a sustained rate (`flood_refusals` within `FLOOD_WINDOW_S`)
is disconnected; one that was briefly too fast and then behaves is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

REPORT_EVERY_S = 1.0
FLOOD_WINDOW_S = 10.0


@dataclass(frozen=True)
class Limits:
    """Per-connection limits; the server builds them from `PARLEY_*` settings."""

    max_frame_bytes: int = 1 << 20
    max_json_depth: int = 64
    max_text_chars: int = 2000  # a typed or injected utterance
    max_prompt_chars: int = 100_000  # a system prompt sent over the socket
    messages_per_second: float = 20.0  # control messages (not audio)
    message_burst: int = 40
    audio_burst_ms: float = 2000.0  # audio beyond real time that is still accepted
    audio_frames_per_second: float = 200.0
    start_timeout_s: float = 10.0  # from connecting to the session's start message
    client_stall_s: float = 10.0  # frames waiting this long unwritten: the client is gone
    flood_refusals: int = 50  # refusals within FLOOD_WINDOW_S that disconnect a client


def too_large(frame: str | bytes, max_bytes: int) -> bool:
    """Whether a frame is over `max_bytes` as sent: a text frame's UTF-8 size, which only
    needs computing when its characters could add up to more (up to 4 bytes each)."""
    if len(frame) > max_bytes:
        return True
    if isinstance(frame, str) and len(frame) * 4 > max_bytes:
        return len(frame.encode("utf-8", "surrogatepass")) > max_bytes
    return False


class TokenBucket:
    """`rate` units a second, holding at most `capacity`; starts full."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self._at = now

    def take(self, amount: float, now: float) -> bool:
        self.refill(now)
        if amount > self.level:
            return False
        self.level -= amount
        return True

    def refill(self, now: float) -> float:
        """The level now (what may be taken)."""
        self.level = min(self.capacity, self.level + (now - self._at) * self.rate)
        self._at = now
        return self.level


class Verdict(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # drop the frame; tell the client if `report` says so
    DISCONNECT = "disconnect"  # the client kept flooding: end the session


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    report: str | None = None  # the error message to send, when one is due


ACCEPTED = Decision(Verdict.ACCEPT)  # one instance: every audio frame of every call gets it


class InputGuard:
    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self._audio_ms = TokenBucket(1000.0, limits.audio_burst_ms, now)
        self._audio_frames = TokenBucket(
            limits.audio_frames_per_second, limits.audio_frames_per_second, now
        )
        self._messages = TokenBucket(limits.messages_per_second, limits.message_burst, now)
        self._patience = TokenBucket(
            limits.flood_refusals / FLOOD_WINDOW_S, limits.flood_refusals, now
        )
        self.refusals = 0
        self._reported_at: float | None = None

    def audio(self, duration_ms: float, now: float) -> Decision:
        frames_ok = self._audio_frames.take(1, now)
        if frames_ok and self._audio_ms.take(duration_ms, now):
            return ACCEPTED
        reason = (
            "audio arrives faster than real time"
            if frames_ok
            else f"more than {self.limits.audio_frames_per_second:.0f} audio frames a second"
        )
        return self._refuse(f"{reason}; the excess is dropped", now)

    def message_headroom(self, now: float) -> tuple[int, int, float]:
        """The control-message limit: (burst, messages left, seconds until full again)."""
        bucket = self._messages
        left = bucket.refill(now)
        return int(bucket.capacity), int(left), round((bucket.capacity - left) / bucket.rate, 3)

    def message(self, now: float) -> Decision:
        if self._messages.take(1, now):
            return ACCEPTED
        rate = self.limits.messages_per_second
        return self._refuse(f"more than {rate:.0f} messages a second; the excess is dropped", now)

    def _refuse(self, reason: str, now: float) -> Decision:
        self.refusals += 1
        if not self._patience.take(1, now):
            return Decision(Verdict.DISCONNECT, f"{reason}; still flooding, so disconnecting")
        if self._reported_at is None or now - self._reported_at >= REPORT_EVERY_S:
            self._reported_at = now
            return Decision(Verdict.REFUSE, reason)
        return Decision(Verdict.REFUSE)

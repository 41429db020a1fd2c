"""One stretch of the caller's speech, and the phase the caller's side is in.

    QUIET ──onset──► SPEAKING ──silence──► PAUSED ──end of turn──► RECOGNISING ──final──► QUIET
                        ▲                     │                          (a user turn)
                        └──────resumed────────┘

The `Utterance` is plain data that `Hearing` (engine/hearing.py) and the end-of-turn judge
(engine/end_of_turn.py) update inside one `SessionCore.handle` call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from parley.engine.measures import DecidedBy


class CallerPhase(enum.Enum):
    QUIET = "quiet"  # no utterance open
    SPEAKING = "speaking"  # speech going on
    PAUSED = "paused"  # silence after speech; the end of turn is being judged
    RECOGNISING = "recognising"  # the turn is over; the final transcript is awaited


@dataclass
class Utterance:
    """One stretch of caller speech, from onset to the end of the turn."""

    id: int
    started_at: float
    interrupting: bool  # began while the agent was thinking or speaking
    confirmed: bool  # counts: not interrupting, or a barge-in confirmed
    ended_at: float | None = None  # when the speech itself ended (estimated)
    endpoint_at: float | None = None  # when the turn was declared over
    partial: str = ""
    heard_in_pause: bool = False  # `partial` came during the current silence
    held_since: float | None = None  # the agent is paused for this speech, undecided
    checks: int = 0  # end-of-turn model questions asked
    asked_in_pause: int = 0  # … of them in the current silence
    score: float | None = None  # its last answer
    sounds_finished: bool = False  # its last answer: finished
    awaiting_words: bool = False  # … and the words of the pause are awaited to have their say
    ends_when_quiet: bool = False  # decided over, once the VAD has heard MIN_QUIET_MS of it
    partial_punctuated: bool = False  # `partial` is from a recogniser that punctuates
    model_ms: float = 0.0  # its compute, all questions
    decided_by: DecidedBy = "silence"  # what ends (or ended) the turn
    continues: bool = False  # goes on with the caller's latest turn (engine/continuation.py)

    def duration_ms(self, now: float | None = None) -> float:
        """Speech so far (until `now` while it goes on)."""
        end = self.ended_at if self.ended_at is not None else now
        return ((end if end is not None else self.started_at) - self.started_at) * 1000

    @property
    def holding(self) -> bool:
        return self.held_since is not None

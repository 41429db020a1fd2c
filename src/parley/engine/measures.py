"""What the engine measures of each turn, as it leaves the engine (clients, store, metrics).

- `TurnMetrics`: the latency of one turn, stage by stage, with how its end was decided.
- `EndOfTurn`: how the caller's turn was judged over: after a fixed silence, by the
  end-of-turn model, or at the longest wait the model is allowed.
- `BargeIn`: how speech over the agent was resolved when the agent paused for it: a real
  barge-in (`confirmed`), the caller going on with the turn the reply answered
  (`continued`), or a backchannel or noise after which the agent went on (`resumed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

EndOfTurnMode = Literal["silence", "semantic", "client"]
# silence: `endpoint_ms` of silence; model: the model said finished; words: past a thinking
# pause, the recogniser heard a finished sentence though the model did not; max_wait:
# neither did, within `max_endpoint_ms`; fallback: the model could not answer (busy,
# failed, too slow) and the silence rule decided; commit: the client ended the turn.
DecidedBy = Literal["silence", "model", "words", "max_wait", "fallback", "commit"]
# continued: confirmed, but begun before the reply meant anything: the caller's turn goes
# on and the reply is withdrawn (engine/continuation.py).
BargeInOutcome = Literal["confirmed", "resumed", "continued"]
# words: a transcript with words that are not a backchannel; long: speech went on past the
# confirm window; backchannel / noise: what was said did not take the turn; short: under
# `min_interruption_ms`; unheard: recognition failed or was too late, so the agent went on.
BargeInReason = Literal["words", "long", "backchannel", "noise", "short", "unheard"]


@dataclass(frozen=True, slots=True)
class EndOfTurn:
    mode: EndOfTurnMode
    decided_by: DecidedBy
    silence_ms: float  # from the end of speech to the end of the turn
    score: float | None = None  # the model's last probability that the turn was finished
    checks: int = 0  # how many times the model was asked
    model_ms: float = 0.0  # the model's compute for this turn, all checks

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "decided_by": self.decided_by,
            "score": None if self.score is None else round(self.score, 3),
            "checks": self.checks,
            "silence_ms": round(self.silence_ms, 1),
            "model_ms": round(self.model_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """Latency of one turn, ms. `total_ms` runs from the end of the caller's speech (or the
    arrival of a typed turn) to the first agent audio frame sent."""

    turn: int
    endpoint_ms: float | None = None
    stt_ms: float | None = None
    llm_ttft_ms: float | None = None
    tts_ttfb_ms: float | None = None
    total_ms: float | None = None
    stt_fallback: bool = False  # the turn's recogniser was overloaded; a lighter one heard it
    end_of_turn: EndOfTurn | None = None  # None for a turn the caller did not speak

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "endpoint_ms": self.endpoint_ms,
            "stt_ms": self.stt_ms,
            "stt_fallback": self.stt_fallback,
            "llm_ttft_ms": self.llm_ttft_ms,
            "tts_ttfb_ms": self.tts_ttfb_ms,
            "total_ms": self.total_ms,
            "end_of_turn": None if self.end_of_turn is None else self.end_of_turn.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class BargeIn:
    """Speech over the agent, resolved: the agent's `turn` it spoke over, how it ended, how
    long the agent was paused (ms) and what the caller said."""

    turn: int
    outcome: BargeInOutcome
    reason: BargeInReason
    paused_ms: float
    heard: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "paused_ms": round(self.paused_ms, 1),
            "heard": self.heard,
        }

"""What one turn-taking trial showed, read from the messages the caller timed (pure: no
I/O, so every rule here is a plain function of the log).

A spoken turn (`spoken_turn`, part 1). The end of speech is the clip's last loud sample on
the caller's clock (turns_line.Said.moment). For a *paused* sentence the server **cut in**
when it ended the caller's turn before the second half began, seen as any of:
- two user turns for the one sentence (distinct `turn` numbers among the user
  `transcript`s and the user turns' `metrics`);
- a final user `transcript`, agent audio or a user turn's `metrics` that arrived before
  the second half's onset (none can come before the server has ended the turn);
- `paused` or `interrupted` during the sentence (the second half talked over a reply).
For a *finished* sentence: `endpoint_ms` and `end_of_turn` from the turn's `metrics`, and, at
the caller, end of speech → the (last) final user transcript (end of turn + recognition:
the end of the turn itself is not on the wire) and → the first agent audio.

A sound over the agent (`over_agent`, parts 2 and 3), the greeting being turn 0. Its
onset is the clip's first loud sample. The reply **stopped for good** when `interrupted`
came, or the greeting's final agent transcript holds fewer words than the greeting; else
it **resumed** (after a `paused`) or was **unaffected**. The stop time is the first
`paused` or `interrupted` after the onset; one before the onset is `early` (the noise floor
alone stopped it) and not timed. When the agent paused, the server's own verdict (the
`metrics` message's `barge_in`: outcome, reason, how long it stayed paused) is kept.
"""

from __future__ import annotations

import re
from typing import Any

from parley.bench.turns_line import Heard, Said


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _user(heard: Heard) -> bool:
    return heard.type == "transcript" and heard.payload.get("role") == "user"


def _user_metrics(heard: Heard) -> bool:
    return heard.type == "metrics" and heard.payload.get("endpoint_ms") is not None


def user_turns(log: list[Heard]) -> set[int]:
    return {int(h.payload["turn"]) for h in log if _user(h) or _user_metrics(h)}


def _ms(later: float | None, earlier: float) -> float | None:
    return None if later is None else round((later - earlier) * 1000, 1)


def spoken_turn(said: Said, log: list[Heard]) -> dict[str, Any]:
    clip = said.clip
    end = said.moment(clip.end_s)
    finals = [h for h in log if _user(h) and h.payload.get("final")]
    metrics = [h.payload for h in log if _user_metrics(h)]
    first = metrics[0] if metrics else {}
    audio = next((h.at for h in log if h.type == "audio" and h.at > end), None)
    judged = [m["end_of_turn"] for m in metrics if m.get("end_of_turn")]
    checks = [j.get("checks") for j in judged]
    model_ms = [j.get("model_ms") for j in judged if j.get("model_ms") is not None]
    row: dict[str, Any] = {
        "kind": clip.kind,
        "set": clip.set_name,
        "text": clip.text,
        "voice": clip.voice,
        "heard": [h.payload.get("text", "") for h in finals],
        "user_turns": len(user_turns(log)),
        "endpoint_ms": first.get("endpoint_ms"),
        "total_ms": first.get("total_ms"),
        "end_of_turn": first.get("end_of_turn"),
        "checks": sum(int(c or 0) for c in checks) if checks else None,
        "model_ms": round(sum(model_ms), 1) if model_ms else None,
        "final_ms": _ms(finals[-1].at if finals else None, end),
        "first_audio_ms": _ms(audio, end),
    }
    if clip.resume_s is not None:
        resume = said.moment(clip.resume_s)
        why = []
        if row["user_turns"] > 1:
            why.append("two user turns")
        early = [h for h in log if h.at < resume and (h in finals or _user_metrics(h))]
        if early or any(h.type == "audio" and h.at < resume for h in log):
            why.append("answered before the second half")
        if any(h.type in ("paused", "interrupted") for h in log):
            why.append("second half over the agent")
        row |= {"pause_s": clip.pause_s, "gap_s": round(clip.gap_s or 0.0, 3)}
        row |= {"cut_in": bool(why), "cut_in_why": why}
    return row


def over_agent(said: Said, log: list[Heard], greeting: str) -> dict[str, Any]:
    clip = said.clip
    onset = said.moment(clip.onset_s)

    def first(kind: str) -> float | None:
        return next((h.at for h in log if h.type == kind), None)

    paused, resumed, interrupted = first("paused"), first("resumed"), first("interrupted")
    verdict = next(
        (h.payload["barge_in"] for h in log if h.type == "metrics" and h.payload.get("barge_in")),
        None,
    )
    final = next(
        (
            h.payload.get("text", "")
            for h in log
            if h.type == "transcript"
            and h.payload.get("role") == "agent"
            and h.payload.get("final")
            and h.payload.get("turn") == 0
        ),
        None,
    )
    cut_short = final is not None and len(words(final)) < len(words(greeting))
    stopped = interrupted is not None or cut_short
    reacted = [t for t in (paused, interrupted) if t is not None]
    stop_at = min(reacted) if reacted else None
    early = stop_at is not None and stop_at < onset
    return {
        "kind": clip.kind,
        "text": clip.text,
        "voice": clip.voice,
        "sound_ms": round((clip.end_s - clip.onset_s) * 1000),
        "outcome": "stopped" if stopped else "resumed" if paused is not None else "unaffected",
        "paused": paused is not None,
        "resumed": resumed is not None,
        "interrupted": interrupted is not None,
        "greeting_heard": final,
        "barge_in": verdict,  # the server's own verdict (`metrics.barge_in`), when it paused
        "early": early,
        "stop_ms": None if early else _ms(stop_at, onset),
        "interrupted_ms": None if early else _ms(interrupted, onset),
    }

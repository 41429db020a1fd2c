"""One row per column and part of the turn-taking benchmark, from its trials' rows
(turns_measure): the figures docs/benchmarks.md's "Turn-taking" tables show, with the
trials kept alongside for anyone who wants to look closer.

The pauses part has a row per column and sentence set (turns_corpus.SETS: `main`, which
the turn rules were tuned on, `heldout`, looked at when the second question was chosen, and
`fresh`, which nothing was), so each can be reported without the others. Latencies are
over the trials they apply to: a finished sentence heard as exactly one user turn and
answered; a stop time over the trials that stopped (or paused) the agent after the sound
began. A percentage is of every trial of its kind.
`decided_by` tallies how the server says each turn ended (`metrics.end_of_turn`),
`verdicts` its barge-in verdicts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from parley.bench.report import percentiles


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _figures(trials: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    return percentiles([t[key] for t in trials if t[key] is not None], 50, 95)


def pauses_row(mode: str, sentences: str, trials: list[dict[str, Any]]) -> dict[str, Any]:
    finished = [t for t in trials if t["kind"] == "finished"]
    paused = [t for t in trials if t["kind"] == "paused"]
    clean = [t for t in finished if t["user_turns"] == 1 and t["first_audio_ms"] is not None]
    whole = [t for t in paused if not t["cut_in"] and t["first_audio_ms"] is not None]
    return {
        "mode": mode,
        "set": sentences,
        "finished": len(finished),
        "paused": len(paused),
        "cut_ins": sum(1 for t in paused if t["cut_in"]),
        "cut_in_percent": _percent(sum(1 for t in paused if t["cut_in"]), len(paused)),
        "finished_unanswered": sum(1 for t in finished if t["first_audio_ms"] is None),
        "finished_split": sum(1 for t in finished if t["user_turns"] > 1),
        "endpoint_ms": _figures(clean, "endpoint_ms"),
        "final_transcript_ms": _figures(clean, "final_ms"),
        "first_audio_ms": _figures(clean, "first_audio_ms"),
        "server_total_ms": _figures(clean, "total_ms"),
        "paused_first_audio_ms": _figures(whole, "first_audio_ms"),
        "decided_by": {
            kind: dict(
                Counter(
                    (t["end_of_turn"] or {}).get("decided_by", "–")
                    for t in trials
                    if t["kind"] == kind
                )
            )
            for kind in ("finished", "paused")
        },
        "trials": trials,
    }


def _outcomes(trials: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(trials)
    tally = {o: sum(1 for t in trials if t["outcome"] == o) for o in ("stopped", "resumed")}
    tally["unaffected"] = count - tally["stopped"] - tally["resumed"]
    return {
        "trials": count,
        **tally,
        "stopped_percent": _percent(tally["stopped"], count),
        "resumed_percent": _percent(tally["resumed"], count),
        "unaffected_percent": _percent(tally["unaffected"], count),
        "early": sum(1 for t in trials if t["early"]),
        "verdicts": dict(
            Counter(
                f"{t['barge_in'].get('outcome')} {t['barge_in'].get('reason')}"
                for t in trials
                if t["barge_in"]
            )
        ),
        "unresolved": sum(
            1 for t in trials if t["greeting_heard"] is None and not t["interrupted"]
        ),
    }


def over_agent_rows(
    mode: str, sounds: list[dict[str, Any]], barge_ins: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    backchannels = [t for t in sounds if t["kind"] == "backchannel"]
    noises = [t for t in sounds if t["kind"] == "noise"]
    sounds_row = {
        "mode": mode,
        "backchannel": _outcomes(backchannels),
        "noise": _outcomes(noises),
        "trials": sounds,
    }
    barge_row = {
        "mode": mode,
        "outcomes": _outcomes(barge_ins),
        "stop_ms": _figures(barge_ins, "stop_ms"),
        "interrupted_ms": _figures(barge_ins, "interrupted_ms"),
        "trials": barge_ins,
    }
    return sounds_row, barge_row


def cpu_row(mode: str, cpu: dict[str, Any]) -> dict[str, Any]:
    turns, checks, worker = cpu["turns"], cpu["checks"], cpu["worker_cpu_s"]
    return {
        "mode": mode,
        "turns": turns,
        "checks": checks,
        "worker_cpu_s": None if worker is None else round(worker, 3),
        "model_ms_per_check": (  # the server's own timing of the model, for comparison
            round(cpu["model_ms"] / checks, 2) if cpu["model_ms"] is not None and checks else None
        ),
        "worker_ms_per_check": (
            round(worker * 1000 / checks, 2) if worker is not None and checks else None
        ),
        "server_cpu_s": round(cpu["server_cpu_s"], 2),
        "server_ms_per_turn": round(cpu["server_cpu_s"] * 1000 / turns, 1) if turns else None,
    }

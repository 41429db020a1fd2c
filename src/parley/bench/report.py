"""Benchmark numbers: percentiles, event-loop lag from Prometheus buckets, table, plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from parley.bench.scenario import FIXED_DELAYS_MS

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
LAG = "parley_event_loop_lag_seconds_bucket"
TURN = "parley_turn_latency_seconds"


def window(before: str, after: str) -> Samples:
    """What each Prometheus sample gained between two scrapes of `/metrics`."""

    def samples(text: str) -> Samples:
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    start = samples(before)
    return {key: value - start.get(key, 0.0) for key, value in samples(after).items()}


def percentiles(values: list[float], *points: int) -> dict[str, float | None]:
    if not values:
        return {f"p{p}": None for p in points}
    return {f"p{p}": round(float(np.percentile(values, p)), 1) for p in points}


def loop_lag(before: str, after: str) -> dict[str, float | None]:
    """p99 and max of the loop lag in the window, in ms, from cumulative bucket counts:
    p99 interpolated inside its bucket, max given as the bound of the highest bucket used."""
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in window(before, after).items()
        if name == LAG
    )
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return {"p99": None, "max": None}
    target, lower, previous = 0.99 * total, 0.0, 0.0
    p99 = None
    for bound, count in buckets:
        if count >= target and p99 is None:
            upper = bound if bound != float("inf") else lower * 2
            share = (target - previous) / max(count - previous, 1e-9)
            p99 = (lower + (upper - lower) * share) * 1000
        lower, previous = (bound if bound != float("inf") else lower), count
    highest = next((bound for bound, count in buckets if count >= total), float("inf"))
    return {
        "p99": round(p99 or 0.0, 2),
        "max": None if highest == float("inf") else round(highest * 1000, 2),
    }


def turn_components(before: str, after: str) -> dict[str, float | None]:
    """Mean of each server-side turn latency component over the window, in ms: where the
    time between the caller's last word and the first reply audio went, as the server saw it."""
    gained = window(before, after)
    means: dict[str, float | None] = {}
    for name, labels in sorted(gained):
        if name != f"{TURN}_count":
            continue
        count, total = gained[(name, labels)], gained.get((f"{TURN}_sum", labels), 0.0)
        means[dict(labels)["component"]] = round(total / count * 1000, 1) if count > 0 else None
    return means


def summarise(turns: list[dict[str, Any]]) -> dict[str, Any]:
    v2v = [t["v2v_ms"] for t in turns if t["v2v_ms"] is not None]
    overhead = [v - FIXED_DELAYS_MS for v in v2v]
    barge = [t["barge_in_ms"] for t in turns if t["barge_in_ms"] is not None]
    stream = [t["reply_stream_ms"] for t in turns if t["reply_stream_ms"] is not None]
    return {
        "turns": len(turns),
        "missing_replies": sum(1 for t in turns if t["missing"]),
        "v2v_ms": percentiles(v2v, 50, 95, 99),
        "overhead_ms": percentiles(overhead, 50, 95, 99),
        "bargein_ms": percentiles(barge, 50, 99),
        "reply_stream_ms": percentiles(stream, 50),
    }


def table(levels: list[dict[str, Any]]) -> Table:
    grid = Table(
        "callers",
        "admitted",
        "workers",
        "turns",
        "missing",
        "v2v p50",
        "overhead p50/p95/p99",
        "barge-in p50",
        "loop lag p99/max",
        "loop busy",
        "host busy",
        "CPU %",
        "RSS MB",
        "MB/caller",
        title="Parley: standard benchmark (ms unless noted)",
    )
    for level in levels:
        o, lag = level["overhead_ms"], level["loop_lag_ms"]
        grid.add_row(
            str(level["sessions"]),
            str(level.get("admitted", level["sessions"])),
            str(level["workers"]),
            str(level["turns"]),
            str(level["missing_replies"]),
            _ms(level["v2v_ms"]["p50"]),
            f"{_ms(o['p50'])} / {_ms(o['p95'])} / {_ms(o['p99'])}",
            _ms(level["bargein_ms"]["p50"]),
            f"{_ms(lag['p99'])} / {_ms(lag['max'])}",
            "-" if level.get("loop_busy") is None else f"{level['loop_busy']:.0%}",
            "-" if level.get("host_busy") is None else f"{level['host_busy']:.0%}",
            f"{level['server_cpu_percent']:.0f}",
            f"{level['server_rss_mb']:.0f}",
            f"{level['rss_per_session_mb']:.2f}",
        )
    return grid


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def plot(levels: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = [level["sessions"] for level in levels]
    figure, (latency, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        latency.plot(
            sessions, [lv["overhead_ms"][key] for lv in levels], style, label=f"overhead {key}"
        )
    v2v = latency.secondary_yaxis(
        "right", functions=(lambda ms: ms + FIXED_DELAYS_MS, lambda ms: ms - FIXED_DELAYS_MS)
    )
    v2v.set_ylabel("voice-to-voice ms (overhead + 795)")
    latency.set(
        xlabel="concurrent callers",
        ylabel="ms beyond the 795 ms of fixed delays",
        title="Parley's own latency per turn",
    )
    latency.grid(alpha=0.3)
    latency.legend()
    cpu.plot(sessions, [lv["server_cpu_percent"] for lv in levels], "o-", color="tab:red")
    cpu.set(xlabel="concurrent callers", ylabel="server CPU % (100 = one core)", title="Server CPU")
    cpu.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def show(levels: list[dict[str, Any]]) -> None:
    console = Console()
    if not console.is_terminal:  # a log or a pipe: print the table whole, not squeezed
        console = Console(width=160)
    console.print(table(levels))

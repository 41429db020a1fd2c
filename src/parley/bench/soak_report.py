"""Soak figures: a least-squares slope per metric, the flatness rule, the table.

The rule, and why: a leak is a line that keeps rising however long the run, so each metric's
samples after the warm-up get a least-squares line, and the metric is *not flat* when that line
rises over the measured time by more than `max(tolerance × its value at the end of warm-up,
floor)`. The default tolerance is 10 %: a healthy server's figures wander by a few percent
(allocator arenas, pools and caches settling, sessions mid-redial), while even a small
per-session leak, multiplied by the thousands of sessions a churning soak ends, is well above
it (200 callers for 30 minutes end ~25,000 sessions: 10 % of a 280 MB server is ~1 KB each).
The floors keep small counts honest: one more pooled thread, or a few fds of a transient HTTP
connection, are not a leak of a server that had 12 of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

SampleRow = dict[str, float | None]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    floor: float  # growth over the run that never fails it, whatever the tolerance


METRICS = (
    Metric("rss_mb", "server RSS", "MB", 32.0),
    Metric("fds", "server open fds", "", 16.0),
    Metric("threads", "server threads (OS)", "", 4.0),
    Metric("children_rss_mb", "children's RSS", "MB", 16.0),
    Metric("children_fds", "children's fds", "", 8.0),
    Metric("children_threads", "children's threads", "", 4.0),
    Metric("tasks", "asyncio tasks", "", 20.0),
    Metric("py_threads", "Python threads", "", 4.0),
    Metric("sessions_live", "sessions live", "", 5.0),
)
MIN_SAMPLES = 3  # fewer than this after warm-up and a slope means nothing
RULE = (
    "not flat when the least-squares line through the samples after warm-up rises, over the "
    "measured time, by more than max(tolerance x its value at the end of warm-up, floor)"
)


def slope(times_s: list[float], values: list[float]) -> tuple[float, float]:
    """Least-squares slope per hour and the line's value at the first time."""
    if len(set(times_s)) < 2:
        return 0.0, values[0] if values else 0.0
    per_s, at_zero = np.polyfit(np.asarray(times_s), np.asarray(values), 1)
    return float(per_s) * 3600, float(at_zero + per_s * times_s[0])


def judge(
    metric: Metric, samples: list[SampleRow], warmup_s: float, tolerance: float
) -> dict[str, Any] | None:
    """One metric's trend after warm-up and its verdict; None if the server never reported it.

    If too few samples follow the warm-up (a run stopped early at the RSS ceiling) the line is
    fitted through every sample, and `warmup_included` says so."""
    points = [
        (t, v)
        for row in samples
        if (t := row["t"]) is not None and (v := row.get(metric.key)) is not None
    ]
    measured = [(t, v) for t, v in points if t >= warmup_s]
    included = len(measured) < MIN_SAMPLES
    window = points if included else measured
    if len(window) < 2:
        return None
    times, values = [t for t, _ in window], [v for _, v in window]
    per_hour, start_fit = slope(times, values)
    growth = per_hour * (times[-1] - times[0]) / 3600
    allowed = max(tolerance * abs(start_fit), metric.floor)
    return {
        "label": metric.label,
        "unit": metric.unit,
        "start": values[0],
        "end": values[-1],
        "max": max(values),
        "slope_per_hour": round(per_hour, 3),
        "growth": round(growth, 3),
        "allowed": round(allowed, 3),
        "flat": growth <= allowed,
        "samples": len(window),
        "warmup_included": included,
    }


def verdicts(
    samples: list[SampleRow], warmup_s: float, tolerance: float
) -> dict[str, dict[str, Any]]:
    judged = {metric.key: judge(metric, samples, warmup_s, tolerance) for metric in METRICS}
    return {key: found for key, found in judged.items() if found is not None}


def table(run: dict[str, Any]) -> Table:
    """The run's metrics, one a row: idle before, the measured trend, idle after, verdict."""
    status = run.get("callers_status", {})
    grid = Table(
        "metric",
        "idle before",
        "start",
        "end",
        "max",
        "idle after",
        "slope / h",
        "growth",
        "allowed",
        "verdict",
        title=(
            f"Parley soak: {run['stack']} stack, {run['callers']} callers, "
            f"{run['measured_minutes']:.1f} of {run['minutes']:g} min measured"
        ),
        caption=(
            f"{status.get('sessions', 0)} sessions dialled, {status.get('turns', 0)} turns, "
            f"{status.get('missing', 0)} replies missing; {_drained(run)}; "
            + (f"[red]stopped early: {run['aborted']}[/red]; " if run.get("aborted") else "")
            + f"{RULE} (tolerance {run['tolerance']:.0%})"
        ),
    )
    for key, found in run["metrics"].items():
        unit = f" {found['unit']}" if found["unit"] else ""
        grid.add_row(
            found["label"],
            _figure(run["idle_before"].get(key)),
            _figure(found["start"]),
            _figure(found["end"]),
            _figure(found["max"]),
            _figure(run["idle_after"].get(key)),
            f"{found['slope_per_hour']:+.1f}{unit}",
            f"{found['growth']:+.1f}",
            f"{found['allowed']:.1f}",
            "[green]flat[/green]" if found["flat"] else "[red]NOT FLAT[/red]",
        )
    return grid


def _drained(run: dict[str, Any]) -> str:
    if run["drain_s"] is None:
        left = _figure(run["idle_after"].get("sessions_live"))
        return f"[red]{left} session(s) still live after the callers had gone[/red]"
    return f"every session ended {run['drain_s']:g} s after the callers had gone"


def _figure(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.1f}"


def progress_line(sample: SampleRow, status: dict[str, Any]) -> str:
    """One sample, short enough for a progress bar's status column."""
    return (
        f"RSS {_figure(sample.get('rss_mb'))}+{_figure(sample.get('children_rss_mb'))} MB · "
        f"fds {_figure(sample.get('fds'))} · threads {_figure(sample.get('threads'))} · "
        f"tasks {_figure(sample.get('tasks'))} · live {_figure(sample.get('sessions_live'))} · "
        f"sessions {status.get('sessions', 0)} · turns {status.get('turns', 0)} · "
        f"missing {status.get('missing', 0)}"
    )

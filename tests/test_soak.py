"""`parley soak`: a ~35-second smoke run on the fake stack, the flatness rule, the new gauges.

Like the benchmark's smoke test, the run proves the harness works end to end (a server in its
own process, churning callers, samples, slopes, a verdict); a half-minute run is far too short
to say whether Parley leaks, so its verdict is only checked to agree with the exit code.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import anyio.to_thread
import pytest

from parley.bench.soak_report import METRICS, judge
from parley.server.metrics import RuntimeCollector
from tests.support.cli import parley

SAMPLE_KEYS = {"t", "rss_mb", "fds", "threads", "children_rss_mb", "tasks", "sessions_live"}


def test_a_short_churning_run_samples_fits_slopes_and_gives_a_verdict(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "soak.json"
    run = parley(
        cli_env,
        *("soak", "--stack", "fake", "--callers", "3", "--minutes", "0.55"),
        *("--warmup-minutes", "0.15", "--every", "2", "--turns", "2-3", "--json", str(out)),
        ok=False,
        timeout=120,
    )

    result = json.loads(out.read_text())
    [soak] = result["runs"]
    assert run.returncode == (0 if soak["flat"] else 1), run.stderr
    assert (soak["stack"], soak["callers"]) == ("fake", 3)
    assert len(soak["samples"]) >= 12
    assert all(set(row) >= SAMPLE_KEYS for row in soak["samples"])
    # every metric got a line, the gauges from /metrics included
    assert set(soak["metrics"]) == {metric.key for metric in METRICS}
    for found in soak["metrics"].values():
        assert {"slope_per_hour", "start", "end", "max", "growth", "allowed", "flat"} <= set(found)
        assert not found["warmup_included"]
    assert soak["not_flat"] == [key for key, found in soak["metrics"].items() if not found["flat"]]
    # the callers churned: more sessions than callers, ended every way, none left live after
    status = soak["callers_status"]
    assert status["sessions"] > 3 and status["turns"] >= 6
    assert set(status["ended"]) == {"stop", "close", "drop"} and "slow_stops" in status
    assert soak["drain_s"] is not None and soak["idle_after"]["sessions_live"] == 0
    assert soak["samples"][-1]["sessions_started"] >= status["sessions"] - 3
    assert "Parley soak: fake stack" in run.stdout


def test_arguments_too_short_for_a_slope_are_refused(cli_env: dict[str, str]) -> None:
    short = parley(cli_env, "soak", "--minutes", "1", "--warmup-minutes", "0.9", ok=False)
    unknown = parley(cli_env, "soak", "--stack", "cloud", ok=False)

    assert short.returncode == unknown.returncode == 2
    assert "outlast the warm-up" in short.stderr
    assert "--stack takes" in unknown.stderr
    assert "Traceback" not in short.stderr + unknown.stderr


def rows(values: list[float], every: float = 10.0) -> list[dict[str, float | None]]:
    return [{"t": i * every, "rss_mb": value} for i, value in enumerate(values)]


RSS = METRICS[0]


def test_a_steady_rise_after_warm_up_is_not_flat_and_its_slope_is_per_hour() -> None:
    rising = rows([300 + i for i in range(60)])  # 1 MB every 10 s: 360 MB/h

    found = judge(RSS, rising, warmup_s=100, tolerance=0.10)

    assert found is not None
    assert abs(found["slope_per_hour"] - 360) < 1e-6
    assert found["growth"] == 49.0  # over the 490 s after warm-up
    assert found["growth"] > found["allowed"] and not found["flat"]


def test_noise_and_growth_during_warm_up_stay_flat() -> None:
    # a start-up climb (left out), then ±5 MB of noise around 400 MB
    settling = rows(
        [100 + 30 * i for i in range(10)] + [400 + (5 if i % 2 else -5) for i in range(50)]
    )

    found = judge(RSS, settling, warmup_s=100, tolerance=0.10)

    assert found is not None and found["flat"]
    # 10 % of the ~400 MB after warm-up, above the 32 MB floor
    assert found["allowed"] == pytest.approx(40, abs=0.5)


def test_a_metric_the_server_never_reported_gets_no_verdict() -> None:
    assert judge(RSS, [{"t": 0.0, "rss_mb": None}, {"t": 10.0, "rss_mb": None}], 0, 0.1) is None


def gauges() -> dict[str, float]:
    return {family.name: family.samples[0].value for family in RuntimeCollector().collect()}


async def test_the_task_and_thread_gauges_are_counted_on_the_loop_at_scrape_time() -> None:
    idle = await asyncio.to_thread(gauges)  # an asyncio thread: not the loop's, not anyio's
    on_loop = gauges()
    extra = [asyncio.create_task(asyncio.sleep(5)) for _ in range(7)]
    from_worker = await anyio.to_thread.run_sync(gauges)  # where FastAPI runs `/metrics`
    for task in extra:
        task.cancel()

    assert "parley_asyncio_tasks" not in idle  # no way to reach the loop: left out, not wrong
    assert idle["parley_threads"] >= 2  # the loop's and the scraping thread
    assert on_loop["parley_asyncio_tasks"] >= 1
    assert from_worker["parley_asyncio_tasks"] == on_loop["parley_asyncio_tasks"] + 7

"""`parley bench` as a smoke test: two callers for six seconds, every figure reported.

The benchmark is a benchmark, not a test: this only proves it runs end to end (server and
callers in their own processes, real WebSockets, the embedded Silero VAD) and reports what
the standard scenario (docs/benchmarks.md) asks for. Nothing here asserts how fast Parley is.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from parley.bench.pair import other_tree
from parley.bench.runner import run_level
from tests.support.cli import parley

FIXED_DELAYS_MS = 795


def test_a_short_run_reports_every_figure_and_draws_the_plot(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    run = parley(
        cli_env,
        "bench",
        "--sessions",
        "2",
        "--seconds",
        "6",
        "--warmup",
        "1",
        "--json",
        str(out),
        timeout=240,
    )

    result = json.loads(out.read_text())
    assert {"sessions", "seconds", "workers", "turns", "missing_replies"} <= set(result)
    assert (result["sessions"], result["seconds"], result["workers"]) == (2, 6, 1)
    assert result["turns"] >= 2 and result["missing_replies"] == 0
    for key in ("v2v_ms", "overhead_ms"):
        assert set(result[key]) == {"p50", "p95", "p99"}
    # the fake providers' delays really are in the loop: a reply cannot come sooner
    assert result["v2v_ms"]["p50"] > FIXED_DELAYS_MS - 100
    assert result["overhead_ms"]["p50"] == result["v2v_ms"]["p50"] - FIXED_DELAYS_MS
    assert set(result["bargein_ms"]) == {"p50", "p99"}
    assert set(result["loop_lag_ms"]) == {"p99", "max"}
    assert result["loop_lag_ms"]["p99"] is not None
    assert result["server_cpu_percent"] > 0 and result["server_rss_mb"] > 10
    assert set(result["server_turn_mean_ms"]) >= {"endpoint", "stt", "llm_ttft", "total"}
    assert [level["sessions"] for level in result["levels"]] == [2]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "standard benchmark" in run.stdout


def test_a_running_level_reports_its_progress_as_it_goes() -> None:
    """The live line's figures: fed while the level runs, turns only ever growing, the
    window's seconds counting down, and the last report agreeing with the results."""
    updates: list[dict[str, Any]] = []
    result = run_level(2, 4.0, 1.0, 1, on_progress=updates.append, progress_every=0.5)

    measuring = [u for u in updates if u["phase"] == "measuring"]
    assert len(measuring) >= 4, updates  # 4 s reported every 0.5 s
    assert updates[0]["phase"] == "dialling" and measuring[-1] is updates[-1]
    turns = [u["turns"] for u in updates]
    assert turns == sorted(turns) and 0 < turns[-1] <= result["turns"]
    left = [u["seconds_left"] for u in measuring]
    assert left == sorted(left, reverse=True) and left[0] <= 4.0 and left[-1] < 0.5
    assert all(u["callers"] == 2 and u["offered"] == 2 for u in measuring)
    assert measuring[-1]["v2v_ms"]["p50"] > FIXED_DELAYS_MS - 100


def test_bad_levels_are_refused_with_a_clear_message(cli_env: dict[str, str]) -> None:
    refused = parley(cli_env, "bench", "--sessions", "10,many", ok=False)

    assert refused.returncode == 2
    assert "--sessions takes numbers" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_speech_benchmark_reports_wer_and_turn_latency(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "speech.json"
    parley(
        cli_env,
        *("bench-speech", "--stack", "neural", "--callers", "1", "--turns", "2"),
        *("--sentences", "2", "--json", str(out)),
        timeout=300,
    )

    result = json.loads(out.read_text())
    rows = {(r["voices"], r["keyterms"], r["path"]) for r in result["recognition"]}
    assert ("espeak", False, "16 kHz") in rows and ("piper", True, "8 kHz μ-law") in rows
    assert all(0 <= r["wer"] <= 1 and r["utterances"] in (2, 6) for r in result["recognition"])
    [level] = result["conversation"]
    assert (level["stack"], level["callers"], level["turns"]) == ("neural", 1, 2)
    assert level["first_audio_ms"]["p50"] > level["final_ms"]["p50"] >= 300  # after the endpoint
    assert 0 <= level["wer"] <= 1


def test_an_offered_run_counts_who_was_admitted_and_who_refused(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "offered.json"
    env = {**cli_env, "PARLEY_MAX_SESSIONS": "2"}  # the server holds two calls at most
    parley(
        env,
        *("bench", "--offered", "--sessions", "3", "--seconds", "4", "--warmup", "1"),
        *("--json", str(out)),
        timeout=240,
    )

    result = json.loads(out.read_text())
    assert (result["offered"], result["admitted"], result["refused"]) == (3, 2, 1)
    assert list(result["refusals"]) == ["rest 503 server_busy"]
    assert result["turns"] >= 2 and result["missing_replies"] == 0


def test_the_phone_benchmark_compares_a_twilio_call_with_a_native_one(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "phone.json"
    parley(
        cli_env,
        *("bench-phone", "--stack", "neural", "--turns", "2", "--json", str(out)),
        timeout=300,
    )

    result = json.loads(out.read_text())
    paths = {row["path"]: row for row in result["paths"]}
    assert set(paths) == {"native 16 kHz", "phone 8 kHz μ-law"}
    for row in paths.values():
        assert row["turns"] == 2 and row["unanswered"] == 0, row
        assert row["first_audio_ms"]["p50"] >= 300, "answered after the endpoint, not before"
        assert 0 <= row["wer"] <= 1


def test_a_paired_run_measures_two_servers_side_by_side(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "pair.json"
    checkout = Path(__file__).resolve().parents[1]  # this tree, against itself
    parley(
        cli_env,
        *("bench", "--sessions", "2", "--seconds", "4", "--warmup", "1"),
        *("--against", str(checkout), "--progress", "off", "--json", str(out)),
        timeout=240,
    )

    result = json.loads(out.read_text())
    assert result["against"] == str(checkout) and len(result["pairs"]) == 1
    this, against = result["pairs"][0]["this"], result["pairs"][0]["against"]
    for level in (this, against):
        assert level["sessions"] == 2 and level["turns"] >= 1 and level["missing_replies"] == 0
        assert level["server_cpu_percent"] > 0
        assert level["v2v_ms"]["p50"] > FIXED_DELAYS_MS - 100


def test_the_other_side_of_a_pair_can_be_a_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "parley").mkdir(parents=True)
    (repo / "src" / "parley" / "__init__.py").write_text("WHICH = 'first'\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    (repo / "src" / "parley" / "__init__.py").write_text("WHICH = 'second'\n")
    subprocess.run([*git, "commit", "-qam", "second"], check=True)

    with other_tree("HEAD~1", repo) as src:
        assert (src / "parley" / "__init__.py").read_text() == "WHICH = 'first'\n"
    assert not src.exists()  # the worktree is gone with the run
    with (
        pytest.raises(ValueError, match="not a checkout, nor a commit"),
        other_tree("no-such-ref", repo),
    ):
        pass

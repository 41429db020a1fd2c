"""`parley bench-turns`: turn-taking on an embedded stack: thinking pauses, end-of-turn
latency, backchannels and noise over the agent, real barge-ins, and the turn model's CPU."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from parley.bench.speech import STACKS
from parley.bench.turns import COLUMNS, run
from parley.bench.turns_corpus import SETS, VOICES
from parley.cli._common import err, out, save_results
from parley.cli._common import run as run_async


def _modes(text: str) -> list[str]:
    modes = [part.strip() for part in text.split(",") if part.strip()]
    if not modes or set(modes) - set(COLUMNS):
        raise argparse.ArgumentTypeError(f"modes are some of {','.join(COLUMNS)}: {text!r}")
    return modes


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--utterances takes a positive number: {text!r}")
    return int(text)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench-turns", help="turn-taking: pauses, end-of-turn latency, backchannels, barge-ins"
    )
    parser.add_argument("--stack", choices=list(STACKS), default="neural")
    parser.add_argument(
        "--modes",
        type=_modes,
        default=list(COLUMNS),
        help="columns to run: silence,semantic (turn detection), immediate,confirm (barge-in)",
    )
    parser.add_argument(
        "--utterances", type=_count, help="at most this many items per part (default: all)"
    )
    parser.add_argument(
        "--voice",
        choices=list(VOICES),
        default="piper",
        help="who says the paused and finished sentences: piper (one synthesis, cut at a "
        "word; default) or espeak (an SSML break)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        choices=[*SETS, "all"],
        default="all",
        help="paused sentences: main (the 24 the turn rules were tuned on), heldout (16 "
        "looked at while tuning the second question), fresh (16 written later, the set a "
        "change is judged on) or all (default; reported per set)",
    )
    parser.add_argument(
        "--sounds-voice",
        choices=list(VOICES),
        default="espeak",
        help="who says the backchannels and barge-ins (default espeak: three voices)",
    )
    parser.add_argument(
        "--server-src",
        type=lambda path: Path(path).resolve(),
        help="run the server from this source tree (a checkout's src/), e.g. a commit before",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.set_defaults(handler=lambda args: run_async(lambda: _bench(args)))


async def _bench(args: argparse.Namespace) -> int:
    with Progress(transient=True) as progress:
        task = progress.add_task("turn-taking benchmark", total=None)
        result = await run(
            STACKS[args.stack],
            args.modes,
            args.utterances,
            lambda what: progress.update(task, description=what),
            args.server_src,
            args.voice,
            tuple(SETS) if args.sets == "all" else (args.sets,),
            args.sounds_voice,
        )
    result["stack_name"] = args.stack
    _show(result)
    save_results(result, args.json)
    return 0


def _pair(figures: dict[str, Any]) -> str:
    return f"{figures['p50']} / {figures['p95']}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} %"


def _show(result: dict[str, Any]) -> None:
    stack = result["stack_name"]
    for column, why in result["unsupported"].items():
        err.print(f"[yellow]{column}: not supported by this server ({why})[/]")
    if result["pauses"]:
        grid = Table(
            "mode",
            "set",
            "paused: cut in",
            "finished: endpoint_ms p50/p95",
            "→ final transcript",
            "→ first audio",
            "unanswered / split",
            title=f"pauses ({stack} stack, {result['voice']} voice; ms from the end of speech, "
            "at the caller)",
        )
        for row in result["pauses"]:
            grid.add_row(
                row["mode"],
                row["set"],
                f"{_share(row['cut_in_percent'])} ({row['cut_ins']}/{row['paused']})",
                _pair(row["endpoint_ms"]),
                _pair(row["final_transcript_ms"]),
                _pair(row["first_audio_ms"]),
                f"{row['finished_unanswered']} / {row['finished_split']} of {row['finished']}",
            )
        out.print(grid)
    if result["over_agent"]:
        grid = Table(
            "mode", "sound", "trials", "stopped", "resumed", "unaffected", title="over the agent"
        )
        for row in result["over_agent"]:
            for sound in ("backchannel", "noise"):
                tally = row[sound]
                grid.add_row(
                    row["mode"],
                    sound,
                    str(tally["trials"]),
                    _share(tally["stopped_percent"]),
                    _share(tally["resumed_percent"]),
                    _share(tally["unaffected_percent"]),
                )
        out.print(grid)
    if result["barge_ins"]:
        grid = Table(
            "mode",
            "trials",
            "stopped",
            "onset → paused/interrupted p50/p95",
            "onset → interrupted p50/p95",
            title="barge-ins (ms, at the caller)",
        )
        for row in result["barge_ins"]:
            grid.add_row(
                row["mode"],
                str(row["outcomes"]["trials"]),
                _share(row["outcomes"]["stopped_percent"]),
                _pair(row["stop_ms"]),
                _pair(row["interrupted_ms"]),
            )
        out.print(grid)
    if result["cpu"]:
        grid = Table(
            "mode",
            "user turns",
            "model checks",
            "turn model ms / check",
            "server CPU ms / turn",
            title="CPU (over the pauses part)",
        )
        for row in result["cpu"]:
            grid.add_row(
                row["mode"],
                str(row["turns"]),
                "–" if row["checks"] is None else str(row["checks"]),
                "–" if row["worker_ms_per_check"] is None else str(row["worker_ms_per_check"]),
                str(row["server_ms_per_turn"]),
            )
        out.print(grid)

"""`parley bench-phone`: a spoken conversation over a Twilio Media Stream (8 kHz μ-law)
against the same over the native WebSocket (16 kHz), on an embedded stack."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from parley.bench.phone_bench import run
from parley.bench.speech import STACKS
from parley.cli._common import out, save_results
from parley.cli._common import run as run_async


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench-phone", help="latency and WER of phone calls (Twilio, 8 kHz) against 16 kHz"
    )
    parser.add_argument("--stack", choices=list(STACKS), default="neural")
    parser.add_argument("--callers", type=int, default=1, help="callers talking at once")
    parser.add_argument("--turns", type=int, default=6, help="lines each caller says")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.set_defaults(handler=lambda args: run_async(lambda: _bench(args)))


async def _bench(args: argparse.Namespace) -> int:
    with Progress(transient=True) as progress:
        task = progress.add_task("phone benchmark", total=None)
        result = await run(
            args.callers,
            args.turns,
            STACKS[args.stack],
            lambda what: progress.update(task, description=what),
        )
    result["stack"] = args.stack
    _show(result)
    save_results(result, args.json)
    return 0


def _show(result: dict[str, Any]) -> None:
    grid = Table(
        "path",
        "turns",
        "unanswered",
        "end of speech → first audio p50 / p95 ms",
        "WER",
        title=f"{result['stack']} stack, {result['callers']} caller(s)",
    )
    for row in result["paths"]:
        audio = row["first_audio_ms"]
        grid.add_row(
            row["path"],
            str(row["turns"]),
            str(row["unanswered"]),
            f"{audio['p50']} / {audio['p95']}",
            f"{row['wer']:.1%}" if row["wer"] is not None else "–",
        )
    out.print(grid)

"""`parley bench-speech`: recognition quality and spoken-turn latency of the embedded stacks."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from rich.progress import Progress
from rich.table import Table

from parley.bench.speech import STACKS, run
from parley.cli._common import out, save_results
from parley.cli._common import run as run_async


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench-speech", help="WER and spoken-turn latency of the embedded voice stacks"
    )
    parser.add_argument("--stack", choices=[*STACKS, "both"], default="both")
    parser.add_argument(
        "--callers", default="1,2,4,8", help="concurrent callers per level (stops at 2× p95)"
    )
    parser.add_argument("--turns", type=int, default=6, help="turns each caller says a level")
    parser.add_argument(
        "--sentences", type=int, default=30, help="corpus sentences for the WER part (0: skip)"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.set_defaults(handler=lambda args: run_async(lambda: _bench(args)))


async def _bench(args: argparse.Namespace) -> int:
    stacks = list(STACKS) if args.stack == "both" else [args.stack]
    levels = [int(n) for n in args.callers.split(",") if n.strip()]
    with Progress(transient=True) as progress, tempfile.TemporaryDirectory() as scratch:
        task = progress.add_task("speech benchmark", total=None)
        result = await run(
            stacks,
            levels,
            args.turns,
            Path(scratch),
            lambda what: progress.update(task, description=what),
            sentences=args.sentences,
        )
    _show(result)
    save_results(result, args.json)
    return 0


def _show(result: dict[str, Any]) -> None:
    if result["recognition"]:
        grid = Table(
            "stack", "voices", "keyterms", "audio", "utterances", "WER", title="recognition"
        )
        for row in result["recognition"]:
            grid.add_row(
                row["stack"],
                row["voices"],
                "yes" if row["keyterms"] else "no",
                row["path"],
                str(row["utterances"]),
                f"{row['wer']:.1%}",
            )
        out.print(grid)
    grid = Table(
        "stack",
        "callers",
        "turns",
        "→ final p50/p95",
        "→ first audio p50/p95",
        "fallbacks",
        "unanswered",
        "WER",
        "CPU %",
        title="conversation (ms from the end of the caller's speech)",
    )
    for level in result["conversation"]:
        final, audio = level["final_ms"], level["first_audio_ms"]
        grid.add_row(
            level["stack"],
            str(level["callers"]),
            str(level["turns"]),
            f"{final['p50']} / {final['p95']}",
            f"{audio['p50']} / {audio['p95']}",
            str(level["fallbacks"]),
            str(level["unanswered"]),
            f"{level['wer']:.1%}" if level["wer"] is not None else "–",
            f"{level.get('server_cpu_percent', '–')}",
        )
    out.print(grid)

"""`parley bench`: the standard benchmark of docs/benchmarks.md, level by level."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.progress import Progress

from parley.cli._common import CliError, err


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("bench", help="run the standard latency/capacity benchmark")
    parser.add_argument(
        "--sessions",
        default="1,10,25,50,100,200",
        help="concurrent callers per level, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=40.0, help="measured seconds a level")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--offered",
        action="store_true",
        help="admission control on: callers past capacity are refused (admitted/refused per "
        "level, missing replies among the admitted); off, every caller is admitted",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--plot",
        type=Path,
        help="write the PNG plot here (default: beside --json, else bench-results.png)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        levels_wanted = [int(n) for n in args.sessions.split(",") if n.strip()]
    except ValueError:
        err.print("[red]error:[/red] --sessions takes numbers, e.g. 1,10,100")
        return 2
    if not levels_wanted or min(levels_wanted) < 1:
        err.print("[red]error:[/red] --sessions needs at least one level of 1 or more")
        return 2
    try:  # the benchmark's own dependencies are the `bench` extra
        import matplotlib  # noqa: F401

        from parley.bench.report import plot, show
        from parley.bench.runner import run_level
    except ImportError as exc:
        err.print(f"[red]error:[/red] parley bench needs {exc.name}: pip install 'parley\\[bench]'")
        return 2
    levels = []
    with Progress(transient=True) as progress:
        task = progress.add_task("benchmark", total=len(levels_wanted))
        for sessions in levels_wanted:
            progress.update(task, description=f"{sessions} caller(s), {args.workers} worker(s)")
            try:
                levels.append(
                    run_level(sessions, args.seconds, args.warmup, args.workers, args.offered)
                )
            except RuntimeError as exc:
                raise CliError(str(exc)) from None
            progress.advance(task)
    show(levels)
    result = {**levels[-1], "levels": levels}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        err.print(f"results written to {args.json}")
    plot_path = args.plot or (
        args.json.with_suffix(".png") if args.json else Path("bench-results.png")
    )
    plot(levels, plot_path)
    err.print(f"plot written to {plot_path}")
    return 0

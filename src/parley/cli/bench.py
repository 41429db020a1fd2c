"""`parley bench`: the standard benchmark of docs/benchmarks.md, level by level.

A level runs for its warm-up and measured seconds, a minute or more, so while it runs a
live line shows how far it is (callers connected, turns measured, v2v p50/p99 so far,
seconds left), from the callers' `progress` reports (bench/runner.py). It is drawn only on
a terminal and cleared when the level ends, so the tables, `--json` and logs carry the
results alone; `--progress lines` prints the same figures as plain lines on stderr instead
(for a CI log), `--progress off` nothing.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.live import Live
from rich.text import Text

from parley.cli._common import CliError, err, out, save_results


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
    parser.add_argument(
        "--progress",
        choices=("auto", "lines", "off"),
        default="auto",
        help="auto: a live line while a level runs, on a terminal only; lines: plain lines "
        "on stderr; off: none",
    )
    parser.add_argument(
        "--against",
        metavar="REF",
        help="paired: at each level run this tree's server and REF's (a commit of this "
        "checkout, or another checkout's directory) side by side, that many callers each, "
        "at the same time: the machine's noise falls on both (docs/benchmarks.md)",
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
    if args.against:
        return _paired(args, levels_wanted)
    try:
        levels = _each_level(
            args.progress,
            levels_wanted,
            "level {n}/{of}: {sessions} caller(s)",
            "starting the server",
            lambda sessions, report: run_level(
                sessions, args.seconds, args.warmup, args.workers, args.offered, on_progress=report
            ),
        )
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    show(levels)
    result = {**levels[-1], "levels": levels}
    save_results(result, args.json)
    plot_path = args.plot or (
        args.json.with_suffix(".png") if args.json else Path("bench-results.png")
    )
    plot(levels, plot_path)
    err.print(f"plot written to {plot_path}")
    return 0


def _paired(args: argparse.Namespace, levels_wanted: list[int]) -> int:
    """`--against REF`: each level twice at once, this tree's server and REF's."""
    from parley.bench.pair import other_tree, run_pair
    from parley.bench.report import show

    try:
        with other_tree(args.against, Path.cwd()) as other_src:
            pairs = _each_level(
                args.progress,
                levels_wanted,
                "pair {n}/{of}: {sessions} + {sessions}",
                "starting both servers",
                lambda sessions, report: run_pair(
                    sessions, args.seconds, args.warmup, args.workers, other_src, report
                ),
            )
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    for side, label in (("this", "this tree"), ("against", f"against {args.against}")):
        out.print(f"[bold]{label}[/bold] (run side by side)")
        show([pair[side] for pair in pairs])
    save_results({"against": args.against, "pairs": pairs}, args.json)
    return 0


T = TypeVar("T")


def _each_level(
    progress: str,
    levels_wanted: list[int],
    title: str,
    phase: str,
    run: Callable[[int, Callable[[dict[str, Any]], None]], T],
) -> list[T]:
    """Run each level with its live progress line (`title` formatted with n, of, sessions)."""
    done: list[T] = []
    live = Live(Text(""), console=out, transient=True, refresh_per_second=4)
    with live if progress == "auto" else contextlib.nullcontext():
        for index, sessions in enumerate(levels_wanted):
            named = title.format(n=index + 1, of=len(levels_wanted), sessions=sessions)
            report = _reporter(progress, named, live)
            report({"phase": phase})
            done.append(run(sessions, report))
    return done


def progress_line(title: str, figures: dict[str, Any]) -> str:
    """One level's live figures in a line: callers connected, turns, v2v so far, time left."""
    parts = [title]
    if "callers" in figures:
        parts.append(f"{figures['callers']}/{figures.get('offered', '?')} connected")
        turns = figures.get("turns", 0)
        parts.append(f"{turns} turn{'' if turns == 1 else 's'}")
        v2v = figures.get("v2v_ms") or {}
        if v2v.get("p50") is not None:
            parts.append(f"v2v p50 {v2v['p50']:.0f} ms, p99 {v2v['p99']:.0f} ms")
    if figures.get("seconds_left") is not None:
        parts.append(f"{figures['seconds_left']:.0f} s left")
    parts.append(str(figures.get("phase", "")))
    return " · ".join(part for part in parts if part)


def _reporter(mode: str, title: str, live: Live) -> Callable[[dict[str, Any]], None]:
    def report(figures: dict[str, Any]) -> None:
        line = progress_line(title, figures)
        if mode == "auto":
            live.update(Text(line))
        elif mode == "lines":
            err.print(line, highlight=False, soft_wrap=True)

    return report

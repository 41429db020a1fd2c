"""`parley soak`: a long run of churning sessions per stack, failing if the server grows.

Exit codes: 0 every metric of every run stayed flat; 1 some metric was not flat (or a run hit
the RSS ceiling); 2 bad arguments; 3 a run could not be carried out (the server or the
callers failed).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from parley.cli._common import err, out

if TYPE_CHECKING:
    from parley.bench.soak import OnSample, SoakConfig

STACKS = ("fake", "embedded", "neural")
LOG_EVERY_S = 60.0  # without a terminal, one progress line a minute


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "soak", help="run churning sessions for a long time and check nothing keeps growing"
    )
    parser.add_argument(
        "--stack",
        default="fake,embedded",
        help="fake, embedded (the light stack), neural (Whisper + Piper), comma-separated",
    )
    parser.add_argument(
        "--callers",
        type=int,
        help="concurrent callers (default: 200 on fake, 20 on embedded, 4 on neural)",
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="length of each run")
    parser.add_argument("--warmup-minutes", type=float, default=3.0, help="left out of the slopes")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--turns", default="3-5", help="turns a session lasts before hanging up")
    parser.add_argument(
        "--endings", default="stop,close,drop", help="how sessions end, taken in turn"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.10,
        help="growth over the run allowed, as a share of the value after warm-up",
    )
    parser.add_argument(
        "--max-rss-mb", type=float, help="stop a run whose server passes this (default: RAM/2)"
    )
    parser.add_argument("--json", type=Path, help="write every sample and verdict here")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:  # the soak's own dependencies are the `bench` extra
        from parley.bench.callers import churn_endings, churn_turns
        from parley.bench.soak import DEFAULT_CALLERS, SoakConfig
    except ImportError as exc:
        err.print(f"[red]error:[/red] parley soak needs {exc.name}: pip install 'parley\\[bench]'")
        return 2
    try:
        stacks = _stacks(args.stack)
        turns, endings = churn_turns(args.turns), churn_endings(args.endings)
        _check(args)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 2
    configs = [
        SoakConfig(
            stack=stack,
            callers=args.callers or DEFAULT_CALLERS[stack],
            minutes=args.minutes,
            warmup_minutes=args.warmup_minutes,
            every=args.every,
            turns=turns,
            endings=endings,
            tolerance=args.tolerance,
            **({"max_rss_mb": args.max_rss_mb} if args.max_rss_mb else {}),
        )
        for stack in stacks
    ]
    runs = [_run(config) for config in configs]
    result = {"flat": all(run.get("flat") for run in runs), "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        err.print(f"samples and verdicts written to {args.json}")
    if any("error" in run for run in runs):
        return 3
    return 0 if result["flat"] else 1


def _stacks(text: str) -> list[str]:
    stacks = [part.strip() for part in text.split(",") if part.strip()]
    if not stacks or set(stacks) - set(STACKS):
        raise ValueError(f"--stack takes fake, embedded and neural, comma-separated, not {text!r}")
    return stacks


def _check(args: argparse.Namespace) -> None:
    """Refuse a run too short to fit a slope before spending minutes on it."""
    if args.callers is not None and args.callers < 1:
        raise ValueError("--callers must be 1 or more")
    if args.every <= 0 or args.tolerance <= 0 or args.warmup_minutes < 0:
        raise ValueError("--every and --tolerance must be positive, --warmup-minutes ≥ 0")
    if (args.minutes - args.warmup_minutes) * 60 < 3 * args.every:
        raise ValueError("the run must outlast the warm-up by at least three samples (--every)")


def _run(config: SoakConfig) -> dict[str, Any]:
    from parley.bench.soak import run_soak
    from parley.bench.soak_report import table
    from parley.client import ParleyError

    try:
        with _progress(config) as on_sample:
            run = run_soak(config, on_sample)
    except (RuntimeError, ParleyError, httpx.HTTPError, OSError) as exc:  # server or callers
        err.print(f"[red]error:[/red] the {config.stack} soak failed: {exc}")
        return {"stack": config.stack, "callers": config.callers, "error": str(exc)}
    console = out if out.is_terminal else Console(width=160)  # a log: the table whole
    console.print(table(run))
    return run


@contextmanager
def _progress(config: SoakConfig) -> Iterator[OnSample]:
    """Live progress: a bar with the latest sample on a terminal, a line a minute otherwise."""
    from parley.bench.soak_report import SampleRow, progress_line

    total = config.minutes * 60
    title = f"{config.stack}, {config.callers} callers"
    if not err.is_terminal:
        logged = [-LOG_EVERY_S]

        def log(row: SampleRow, status: dict[str, Any]) -> None:
            at = row["t"] or 0.0
            if at - logged[0] >= LOG_EVERY_S:
                logged[0] = at
                err.print(
                    f"{title}: {at / 60:.1f}/{config.minutes:g} min · {progress_line(row, status)}"
                )

        yield log
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, TextColumn("{task.fields[status]}"), console=err) as progress:
        task = progress.add_task(title, total=total, status="dialling…")

        def show(row: SampleRow, status: dict[str, Any]) -> None:
            progress.update(task, completed=row["t"] or 0.0, status=progress_line(row, status))

        yield show

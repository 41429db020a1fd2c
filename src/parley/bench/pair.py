"""A paired level: this tree's server and another's, side by side, measured at the same time.

On a shared machine two runs of the same commit a minute apart differ by more than most
optimisations buy (±8 points of CPU at 100 callers on a noisy day, see docs/benchmarks.md).
Run together, the two servers meet the same machine: each gets the same number of callers
from the same load generator, so whatever the host does to one it does to the other, and
the difference between them is the change's. Each half is an ordinary level (`run_level`,
its own server and callers' process); the other tree's server runs from that tree's `src`
on `PYTHONPATH`, the callers from this one's.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from parley.bench.runner import OnProgress, run_level


@contextlib.contextmanager
def other_tree(ref: str, repository: Path) -> Iterator[Path]:
    """The `src` directory to serve from: `ref` itself when it is a checkout (a directory
    holding `src/parley`), else a commit of `repository` checked out in a temporary git
    worktree (removed afterwards). ValueError when it is neither."""
    given = Path(ref)
    if (given / "src" / "parley").is_dir():
        yield (given / "src").resolve()
        return
    with tempfile.TemporaryDirectory(prefix="parley-against-") as scratch:
        tree = Path(scratch) / "tree"
        made = subprocess.run(
            ["git", "-C", str(repository), "worktree", "add", "--detach", str(tree), ref],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            why = made.stderr.strip()
            raise ValueError(f"--against {ref}: not a checkout, nor a commit here ({why})")
        try:
            yield tree / "src"
        finally:
            subprocess.run(
                ["git", "-C", str(repository), "worktree", "remove", "--force", str(tree)],
                capture_output=True,
            )


def run_pair(
    sessions: int,
    seconds: float,
    warmup: float,
    workers: int,
    other_src: Path,
    on_progress: OnProgress | None = None,
) -> dict[str, dict[str, Any]]:
    """`sessions` callers on each server, at the same time: {"this": level, "against":
    level}. Progress is this tree's."""
    with ThreadPoolExecutor(2, thread_name_prefix="parley-pair") as pool:
        against = pool.submit(
            run_level,
            sessions,
            seconds,
            warmup,
            workers,
            env={"PYTHONPATH": str(other_src)},
        )
        this = pool.submit(run_level, sessions, seconds, warmup, workers, on_progress=on_progress)
        return {"this": this.result(), "against": against.result()}

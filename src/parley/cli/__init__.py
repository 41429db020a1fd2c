"""The `parley` command: serve, manage keys and agents, run the demo.

Each subcommand lives in its own module with a `register(subparsers)` that adds its parser
and sets `handler`; handlers return a process exit code.

`--url`/`--key` (or `PARLEY_URL`/`PARLEY_KEY`) before the command point `agents`,
`sessions`, `voices` and `talk` at a running server (cli/remote.py); without them `agents`
acts on the local database, and `keys` always does (it makes the first key a server needs).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from parley import __version__
from parley.cli import (
    agents,
    bench,
    demo,
    keys,
    knowledge_bench,
    phone_bench,
    remote,
    serve,
    sessions,
    soak,
    speech_bench,
    talk,
    turns_bench,
    voices,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley", description="Parley: a self-hosted real-time voice agent server."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    remote.add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        serve,
        keys,
        agents,
        sessions,
        voices,
        demo,
        talk,
        bench,
        speech_bench,
        phone_bench,
        knowledge_bench,
        turns_bench,
        soak,
    ):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:  # `parley … --json | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)

"""The `parley` command: serve, manage keys and agents, run the demo.

Each subcommand lives in its own module with a `register(subparsers)` that adds its parser
and sets `handler`; handlers return a process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from parley import __version__
from parley.cli import (
    agents,
    bench,
    demo,
    keys,
    knowledge_bench,
    serve,
    soak,
    speech_bench,
    talk,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley", description="Parley: a self-hosted real-time voice agent server."
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, keys, agents, demo, talk, bench, speech_bench, knowledge_bench, soak):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)

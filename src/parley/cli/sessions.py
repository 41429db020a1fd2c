"""`parley sessions list|get|transcript|recording`: calls on a server, after the fact.

Sessions are read over the REST API (`GET /v1/sessions…`), so these need a server
(`--url`/`PARLEY_URL`) and a key, like any API client.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from parley.cli._common import CliError, out
from parley.cli.remote import JSON, print_json, remote, show_object, show_rows, when
from parley.client import ParleyClient

SESSION_COLUMNS = [
    ("id", lambda s: s["session_id"]),
    ("agent", lambda s: s["agent_id"]),
    ("status", lambda s: s["status"]),
    ("created", when("created_at")),
    ("ended", when("ended_at")),
    ("end reason", lambda s: s.get("end_reason")),
]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sessions",
        help="list sessions, read transcripts, fetch recordings (needs --url)",
        description="Sessions on the server named by --url (or PARLEY_URL).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="sessions, newest first")
    listing.add_argument("--status", choices=("active", "ended", "expired"))
    listing.add_argument("--agent", metavar="ID", help="only this agent's sessions")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (≤ 100)")
    listing.add_argument("--offset", type=int, default=0)
    _json_option(listing)
    listing.set_defaults(handler=_handler(_list))

    get = actions.add_parser("get", help="one session")
    get.add_argument("session_id", metavar="ID")
    _json_option(get)
    get.set_defaults(handler=_handler(_get))

    transcript = actions.add_parser("transcript", help="what was said, in speaking order")
    transcript.add_argument("session_id", metavar="ID")
    _json_option(transcript)
    transcript.set_defaults(handler=_handler(_transcript))

    recording = actions.add_parser("recording", help="the stereo WAV of a recorded session")
    recording.add_argument("session_id", metavar="ID")
    recording.add_argument(
        "-o", "--out", type=Path, help="where to write it (default: <session id>.wav)"
    )
    recording.set_defaults(handler=_handler(_recording))


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


Action = Callable[[ParleyClient, argparse.Namespace], Awaitable[int]]


def _handler(action: Action) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        return remote(args, f"sessions {args.action}", lambda client: action(client, args))

    return handle


async def _list(client: ParleyClient, args: argparse.Namespace) -> int:
    page = await client.list_sessions(
        limit=max(1, min(args.limit, 100)),
        offset=max(0, args.offset),
        status=args.status,
        agent_id=args.agent,
    )
    if args.json:
        print_json(page)
    else:
        show_rows(page["data"], SESSION_COLUMNS, f"{page['total']} session(s)")
    return 0


async def _get(client: ParleyClient, args: argparse.Namespace) -> int:
    session = await client.get_session(args.session_id)
    if args.json:
        print_json(session)
    else:
        show_object(session, f"session {session['session_id']}")
    return 0


async def _transcript(client: ParleyClient, args: argparse.Namespace) -> int:
    await client.get_session(args.session_id)  # a 404 names the session, not its messages
    messages = await client.transcript(args.session_id)
    if args.json:
        print_json(messages)
        return 0
    columns = [
        ("#", lambda m: m["seq"]),
        ("turn", lambda m: m.get("turn")),
        ("who", lambda m: m["role"]),
        ("said", _said),
    ]
    show_rows(messages, columns, f"session {args.session_id}: {len(messages)} message(s)")
    return 0


def _said(message: JSON) -> str:
    """An utterance's text (marked when the caller cut it short), or a tool call's gist."""
    tool = message.get("tool")
    if message["role"] == "tool_call" and isinstance(tool, dict):
        status = tool.get("status", "")
        result = tool.get("result")
        return f"{tool.get('name', '?')} {status}" + (f" → {result}" if result else "")
    text = str(message.get("text", ""))
    return text + (" [interrupted]" if message.get("interrupted") else "")


async def _recording(client: ParleyClient, args: argparse.Namespace) -> int:
    data = await client.recording(args.session_id)
    path: Path = args.out or Path(f"{args.session_id}.wav")
    try:
        await asyncio.to_thread(path.write_bytes, data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc}") from None
    out.print(f"recording written to {path} ({len(data)} bytes)", highlight=False)
    return 0

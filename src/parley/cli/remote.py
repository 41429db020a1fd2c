"""What every command that reaches a server shares: where it is, the key, errors, output.

`parley --url URL --key KEY <command>` (or `PARLEY_URL`, `PARLEY_KEY`) points a command at
a running server, over the SDK's `ParleyClient`, so the CLI sees exactly what any API
client sees. The options sit on the top-level parser under their own `dest`s
(`remote_url`, `remote_key`) because subcommands such as `agents list --key` already have a
`--key` of their own, and argparse lets a subparser's default overwrite a parent's value of
the same name.

A server's refusal is one line (the API's `error.message`, its status and code) and exit
code 1, never a traceback; so is a server that cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from parley.cli._common import CliError, err, out
from parley.client import ParleyClient, ParleyError

JSON = dict[str, Any]
Action = Callable[[ParleyClient], Awaitable[int]]
Column = tuple[str, Callable[[JSON], object]]
ID = re.compile(r"[a-z]{2,5}_[0-9A-Za-z]{6,}")  # agt_…, ses_…, msg_…


def add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        dest="remote_url",
        metavar="URL",
        help="a running Parley server (default PARLEY_URL); with it, `agents` acts over the "
        "REST API instead of on the local database",
    )
    parser.add_argument(
        "--key",
        dest="remote_key",
        metavar="KEY",
        help="the API key for --url (default PARLEY_KEY, then PARLEY_API_KEY)",
    )


def server_url(args: argparse.Namespace) -> str | None:
    """The server the command should reach, or None: act locally."""
    url = getattr(args, "remote_url", None) or os.environ.get("PARLEY_URL")
    return url.rstrip("/") if url else None


def api_key(args: argparse.Namespace) -> str | None:
    """The key for the server: a subcommand's own --key (the more specific), the global
    --key, then the environment."""
    return (
        getattr(args, "key", None)
        or getattr(args, "remote_key", None)
        or os.environ.get("PARLEY_KEY")
        or os.environ.get("PARLEY_API_KEY")
    )


def needs_server(command: str) -> CliError:
    return CliError(f"`parley {command}` talks to a server: give --url URL (or set PARLEY_URL)")


def remote(args: argparse.Namespace, command: str, action: Action) -> int:
    """Run `action` against the server the arguments name, reporting failures in a line."""
    url = server_url(args)
    try:
        if url is None:
            raise needs_server(command)
        key = api_key(args)
        if not key:
            raise CliError("give --key KEY (or set PARLEY_KEY) for the server at " + url)
        return asyncio.run(_with_client(url, key, action))
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 1


async def _with_client(url: str, key: str, action: Action) -> int:
    try:
        async with ParleyClient(url, key) as client:
            return await action(client)
    except ParleyError as exc:
        raise CliError(f"{exc.message} ({exc.status} {exc.code})") from None
    except httpx.ConnectError as exc:
        raise CliError(f"cannot reach {url}: {connect_failure(exc)}") from None
    except httpx.TimeoutException:
        raise CliError(f"cannot reach {url}: no answer in time") from None
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None


def connect_failure(exc: httpx.ConnectError) -> str:
    """Why a connection failed, in words: httpx's own are about sockets, not servers."""
    text = str(exc)
    if "refused" in text.lower() or "all connection attempts failed" in text.lower():
        return "connection refused (is `parley serve` running there?)"
    return text or type(exc).__name__


def print_json(data: object) -> None:
    """Raw JSON on stdout, unstyled, for pipes and `jq`."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def show_rows(rows: Sequence[JSON], columns: Sequence[Column], title: str) -> None:
    """A table whose id columns are never cut short (an id is there to be copied); other
    columns wrap to the terminal."""
    cells = [[_cell(value(row)) for _, value in columns] for row in rows]
    table = Table(title=title)
    for index, (name, _) in enumerate(columns):
        values = [line[index] for line in cells]
        if values and all(ID.fullmatch(value) for value in values):
            table.add_column(name, no_wrap=True, min_width=max(map(len, values)))
        else:
            table.add_column(name)
    for line in cells:
        table.add_row(*line)
    _console().print(table)


def show_object(data: JSON, title: str) -> None:
    """One object as a two-column table; nested values as compact JSON."""
    table = Table("field", "value", title=title, show_header=False)
    for name, value in data.items():
        table.add_row(name, _cell(value))
    _console().print(table)


def _console() -> Console:
    """stdout; when that is a pipe or a file, wide enough that rows are not squeezed into
    80 columns (a terminal's own width is kept)."""
    return out if out.is_terminal else Console(width=160)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def when(field: str) -> Callable[[JSON], object]:
    """A timestamp column, to the second."""
    return lambda row: str(row.get(field) or "")[:19].replace("T", " ")


def body_from(path: str | None, flags: JSON) -> JSON:
    """A request body: the JSON file's fields (if any), the flags given over them."""
    fields: JSON = {}
    if path:
        try:
            with open(path, encoding="utf-8") as source:
                loaded = json.load(source)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise CliError(f"{path} holds {type(loaded).__name__}, not a JSON object")
        fields = loaded
    fields.update({name: value for name, value in flags.items() if value is not None})
    return fields

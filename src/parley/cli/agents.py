"""`parley agents`: an account's agents, on a server or straight in the local database.

With a server named (`--url`/`PARLEY_URL`), every action goes over its REST API with an API
key. Without, `list` and `create` work on the local database as they always have (the way
to set up a server before it runs); `get`, `update` and `delete` need a server.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.table import Table

from parley.cli._common import CliError, err, guarded, open_store, out, resolve_account
from parley.cli.remote import (
    body_from,
    print_json,
    remote,
    server_url,
    show_object,
    show_rows,
    when,
)
from parley.client import ParleyClient
from parley.config import Settings
from parley.server.schemas.agents import AgentCreate, AgentOut
from parley.store.tables import Agent
from parley.validation import describe_errors


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "agents",
        help="manage agents",
        description="With --url (or PARLEY_URL) before the command, over a server's REST "
        "API; without, `list` and `create` act straight on the local database.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def account_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--key", help="act as the account of this API key (or PARLEY_API_KEY)")
        sub.add_argument("--account", help="act as this account id (default: the default one)")

    def json_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def field_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--name")
        sub.add_argument("--voice-id", "--voice", dest="voice_id")
        sub.add_argument("--system-prompt", "--prompt", dest="system_prompt")
        sub.add_argument("--greeting")
        sub.add_argument("--language")
        sub.add_argument(
            "--from-json",
            "--file",
            dest="from_json",
            type=Path,
            metavar="FILE",
            help="agent fields as in POST /v1/agents; flags override them",
        )

    listing = actions.add_parser("list", help="list agents")
    account_options(listing)
    json_option(listing)
    listing.add_argument("--limit", type=int, default=100, help="at most this many (remote)")
    listing.add_argument("--offset", type=int, default=0, help="skip this many (remote)")
    listing.set_defaults(handler=_either(_list, _remote_list))

    create = actions.add_parser("create", help="create an agent")
    account_options(create)
    field_options(create)
    json_option(create)
    create.set_defaults(handler=_either(_create, _remote_create))

    get = actions.add_parser("get", help="show an agent (remote)")
    get.add_argument("agent_id", metavar="ID")
    json_option(get)
    get.set_defaults(handler=_either(None, _remote_get))

    update = actions.add_parser("update", help="change some of an agent's fields (remote)")
    update.add_argument("agent_id", metavar="ID")
    field_options(update)
    json_option(update)
    update.set_defaults(handler=_either(None, _remote_update))

    delete = actions.add_parser("delete", help="delete an agent, ending its calls (remote)")
    delete.add_argument("agent_id", metavar="ID")
    json_option(delete)
    delete.set_defaults(handler=_either(None, _remote_delete))


Local = Callable[[argparse.Namespace], Awaitable[int]]
Remote = Callable[[ParleyClient, argparse.Namespace], Awaitable[int]]


def _either(local: Local | None, over_rest: Remote) -> Callable[[argparse.Namespace], int]:
    """Remote when a server is named (--url, PARLEY_URL), else the local database; the
    actions that exist only remotely say how to name one."""

    def handle(args: argparse.Namespace) -> int:
        if server_url(args) is None and local is not None:
            return guarded(lambda: local(args))
        if getattr(args, "account", None):
            err.print(
                "[red]error:[/red] --account is for the local database; with --url the "
                "key names the account",
                soft_wrap=True,
            )
            return 1
        return remote(args, f"agents {args.action}", lambda client: over_rest(client, args))

    return handle


def _shown(agent: Agent) -> dict[str, Any]:
    """An agent as the REST API shows it (this machine's turn-taking defaults filled in)."""
    return AgentOut.of(agent, Settings().vad_defaults()).model_dump(mode="json")


async def _list(args: argparse.Namespace) -> int:
    store = await open_store()
    try:
        account = await resolve_account(store, args.key, args.account)
        agents, total = await store.agents.list(account.id, limit=100, offset=0)
    finally:
        await store.close()
    if args.json:
        print(json.dumps([_shown(agent) for agent in agents], indent=2))
        return 0
    table = Table("id", "name", "voice", "status", "created", title=f"{total} agent(s)")
    for agent in agents:
        table.add_row(
            agent.id,
            agent.name,
            agent.voice_id,
            agent.status,
            agent.created_at.isoformat(timespec="seconds"),
        )
    out.print(table)
    return 0


async def _create(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    if args.from_json:
        try:
            fields = json.loads(args.from_json.read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {args.from_json}: {exc}") from None
    flags = {
        "name": args.name,
        "voice_id": args.voice_id,
        "system_prompt": args.system_prompt,
        "greeting": args.greeting,
        "language": args.language,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    fields.setdefault("voice_id", "default")
    try:
        body = AgentCreate.model_validate(fields)
    except ValidationError as exc:
        raise CliError(describe_errors(exc.errors())) from None
    store = await open_store()
    try:
        account = await resolve_account(store, args.key, args.account)
        agent = await store.agents.create(account.id, body.columns())
    finally:
        await store.close()
    print(json.dumps(_shown(agent), indent=2))
    return 0


COLUMNS = [
    ("id", lambda a: a["id"]),
    ("name", lambda a: a["name"]),
    ("voice", lambda a: a["voice_id"]),
    ("language", lambda a: a["language"]),
    ("status", lambda a: a["status"]),
    ("created", when("created_at")),
]


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    flags = {
        "name": args.name,
        "voice_id": args.voice_id,
        "system_prompt": args.system_prompt,
        "greeting": args.greeting,
        "language": args.language,
    }
    return body_from(str(args.from_json) if args.from_json else None, flags)


def _show(agent: dict[str, Any], args: argparse.Namespace, title: str) -> int:
    if args.json:
        print_json(agent)
    else:
        show_object(agent, title)
    return 0


async def _remote_list(client: ParleyClient, args: argparse.Namespace) -> int:
    page = await client.list_agents(limit=max(1, min(args.limit, 100)), offset=args.offset)
    if args.json:
        print_json(page)
    else:
        show_rows(page["data"], COLUMNS, f"{page['total']} agent(s)")
    return 0


async def _remote_create(client: ParleyClient, args: argparse.Namespace) -> int:
    fields = _fields(args)
    fields.setdefault("voice_id", "default")
    agent = await client.create_agent(**fields)
    return _show(agent, args, f"created agent {agent['id']}")


async def _remote_get(client: ParleyClient, args: argparse.Namespace) -> int:
    agent = await client.get_agent(args.agent_id)
    return _show(agent, args, f"agent {agent['id']}")


async def _remote_update(client: ParleyClient, args: argparse.Namespace) -> int:
    changes = _fields(args)
    if not changes:
        raise CliError("nothing to change: give --name, --prompt, --voice, ... or --file")
    agent = await client.update_agent(args.agent_id, **changes)
    return _show(agent, args, f"updated agent {agent['id']}")


async def _remote_delete(client: ParleyClient, args: argparse.Namespace) -> int:
    agent = await client.delete_agent(args.agent_id)
    if args.json:
        print_json(agent)
    else:
        err.print(f"deleted {agent['id']} ({agent['name']})", highlight=False)
    return 0
